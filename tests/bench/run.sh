#!/bin/bash
# make bench: the benchmark in a loopback-only network namespace.
#   tests/bench/run.sh [--binary PATH] [-n N] [--seconds S] [--json FILE]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
if [ "${BENCH_IN_NETNS:-}" != 1 ]; then
        exec unshare --net -- env BENCH_IN_NETNS=1 bash -c 'ip link set lo up && exec "$0" "$@"' "$0" "$@"
fi
exec /usr/bin/python3 "$HERE/bench.py" "$@"
