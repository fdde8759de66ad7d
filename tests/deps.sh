#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Install what building, running and testing codejail-service needs, from
# Debian's (or Ubuntu's) own archive. Idempotent; needs root.
set -eu
if [ "$(id -u)" != 0 ]; then
        echo "tests/deps.sh: run as root (apt-get install)" >&2
        exit 1
fi
export DEBIAN_FRONTEND=noninteractive
pkgs="build-essential autoconf automake libtool pkg-config
 libjansson-dev libseccomp-dev libapparmor-dev libcmocka-dev libsystemd-dev
 nettle-dev libgmp-dev
 python3 python3-six python3-yaml python3-numpy python3-networkx python3-matplotlib
 python3-scipy python3-sympy python3-lxml python3-nltk python3-pyparsing python3-cryptography
 python3-pytest python3-requests python3-ddt python3-jwt haproxy
 python3-pip python3-setuptools python3-wheel
 systemd iproute2 util-linux curl apparmor procps man-db
 clang libclang-rt-dev valgrind"
# Package lists are empty on a fresh image.
ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1 || apt-get update -qq
# llhttp: Debian 12 ships sources (node-llhttp), newer releases a library.
if apt-cache show libllhttp-dev >/dev/null 2>&1; then
        pkgs="$pkgs libllhttp-dev"
else
        pkgs="$pkgs node-llhttp"
fi
if [ "${CODEJAIL_DEPS_EXTRA:-}" ]; then
        pkgs="$pkgs $CODEJAIL_DEPS_EXTRA"
fi
missing=$(dpkg-query -W -f='${Status} ${Package}\n' $pkgs 2>/dev/null | awk '$3 != "installed" {print $4}' || true)
# dpkg-query does not list unknown packages at all: compare counts too.
known=$(dpkg-query -W -f='${Package}\n' $pkgs 2>/dev/null | wc -l || true)
if [ -n "$missing" ] || [ "$known" -lt "$(echo $pkgs | wc -w)" ]; then
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
fi
