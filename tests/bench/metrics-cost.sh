#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# What the metrics cost one instance, in fresh processes (one per
# connection, as systemd starts codejaild): tests/bench/metrics-cost.c
# linked against the build's code, N runs, counters on a tmpfs as
# /run/codejail-service is.
#   tests/bench/metrics-cost.sh [BUILD_DIR] [N]     (defaults: build/, 500)
# Prints the medians and 90th percentiles of: mapping the counters
# (metrics_open), counting one request (metrics_count: the atomic additions
# and the first-touch page faults), and rendering a scrape
# (metrics_render). The end-to-end check of the same is tests/bench/ab-cost.sh.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
BUILD=$(cd "${1:-$TOP/build}" && pwd)
N=${2:-500}
work=$(mktemp -d /dev/shm/cj-metrics-cost.XXXXXX)
trap 'rm -rf "$work"' EXIT
llhttp=
[ -f "$BUILD/src/.libs/libllhttp_vendored.a" ] && llhttp="$BUILD/src/.libs/libllhttp_vendored.a"
# shellcheck disable=SC2086
cc -O2 -include "$BUILD/config.h" -I"$TOP/src" -I"$BUILD/src" -o "$work/metrics-cost" "$HERE/metrics-cost.c" \
        "$BUILD/src/.libs/libcodejail.a" "$BUILD/src/.libs/libcjauth.a" $llhttp $(pkg-config --libs jansson) \
        $(pkg-config --libs libllhttp 2>/dev/null || true) $(pkg-config --libs libapparmor 2>/dev/null || true) -lhogweed -lnettle -lgmp
mkdir "$work/state"
/usr/bin/python3 - "$work" "$N" <<'PY'
import statistics, subprocess, sys
d, n = sys.argv[1], int(sys.argv[2])
rows = [list(map(int, subprocess.run([f"{d}/metrics-cost", f"{d}/state"], capture_output=True, text=True,
                                     check=True).stdout.split())) for _ in range(n)]
def q(i, p):
    xs = sorted(r[i] for r in rows)
    return xs[min(len(xs) - 1, int(len(xs) * p))] / 1000
print(f"{n} fresh processes; microseconds, median (p90)")
for i, what in enumerate(["metrics_open (open, fstat, mmap)", "metrics_count (one request)",
                          "metrics_render (one scrape)"]):
    print(f"  {what}: {q(i, 0.5):.1f} ({q(i, 0.9):.1f})")
PY
