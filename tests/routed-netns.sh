#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Inside a fresh network namespace (the caller's `unshare --net`): give it a
# route out, as a host without systemd's PrivateNetwork= has one, then exec
# CMD. A veth pair with both ends in this namespace (frames can only reach
# the peer, and the namespace dies with CMD), a documentation-range address
# (RFC 5737) and a default route via the peer's side; IPv6 off on both ends
# so the kernel sends nothing by itself (no DAD, no router solicitation).
# Suites use this where a probe that looks for egress must have something to
# see, whether they were started on a host with a route or in a
# loopback-only namespace. Nothing is sent: the suite can prove it from the
# veth pair's transmit counters (/proc/self/net/dev, cjveth0 and cjveth1).
#
#   tests/routed-netns.sh CMD [ARGS...]
set -euo pipefail
[ $# -gt 0 ] || { echo "routed-netns.sh: usage: routed-netns.sh CMD [ARGS...]" >&2; exit 2; }
# Never touch a namespace that already has interfaces (the host's).
if [ "$(awk -F: 'NR > 2 { gsub(/ /, "", $1); print $1 }' /proc/self/net/dev)" != lo ]; then
        echo "routed-netns.sh: not in a fresh network namespace (run it under unshare --net)" >&2
        exit 2
fi
ip link set lo up
ip link add cjveth0 type veth peer name cjveth1
for dev in cjveth0 cjveth1; do
        if [ -d /proc/sys/net/ipv6/conf/$dev ]; then
                echo 1 >/proc/sys/net/ipv6/conf/$dev/disable_ipv6
        fi
done
ip addr add 198.51.100.1/24 dev cjveth0
ip link set cjveth0 up
ip link set cjveth1 up
ip route add default via 198.51.100.2 dev cjveth0
exec "$@"
