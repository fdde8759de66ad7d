#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# make check: the upstream column of README "Writes outside tmp/: upstream's
# errno and ours", measured in upstream's own layout (two UIDs, a codejail
# jail dir, Landlock for AppArmor's file rules: tests/upstream/errno_upstream.py).
set -eu
: "${top_srcdir:?}"
if [ "$(id -u)" != 0 ]; then
        echo "errno-upstream: SKIP: needs root (a service and a sandbox UID); tests/run-all.sh runs it as root"
        exit 77
fi
exec /usr/bin/python3 -B "$top_srcdir/tests/upstream/errno_upstream.py"
