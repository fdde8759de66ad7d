#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# make bench: the benchmark in a loopback-only network namespace.
#   tests/bench/run.sh [--binary PATH] [-n N] [--seconds S] [--json FILE]
# The namespace also gets a veth pair (both ends inside it, no default
# route) so the service does not find itself private and takes the
# production path: it unshares a network namespace of its own, which its
# one jail shares (BENCH_PRIVATE_NETNS=1 measures the other path, where the
# jail creates its own).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
if [ "${BENCH_IN_NETNS:-}" != 1 ]; then
        exec unshare --net -- env BENCH_IN_NETNS=1 bash -c 'ip link set lo up && exec "$0" "$@"' "$0" "$@"
fi
if [ "${BENCH_PRIVATE_NETNS:-}" != 1 ]; then
        ip link add cjveth0 type veth peer name cjveth1
        ip addr add 198.51.100.1/24 dev cjveth0
        ip link set cjveth0 up
        ip link set cjveth1 up
fi
exec /usr/bin/python3 "$HERE/bench.py" "$@"
