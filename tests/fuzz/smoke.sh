#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Smoke-run every libFuzzer harness: build (tests/fuzz/build.sh), replay
# the committed corpus (tests/fuzz/corpus/<harness>/, which keeps every
# crash reproducer), then fuzz each harness for SECONDS (default 60).
#
#   tests/fuzz/smoke.sh [SECONDS]      BUILD_FUZZ=DIR overrides build-fuzz/
#
# Seeds: the committed corpus plus the unit-test data (tests/data/*/*/input).
# The growing corpus lives in the build dir; the source tree is not written.
# Exits non-zero on the first crash, leak, sanitizer report or timeout.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
SECS=${1:-60}
OUT=${BUILD_FUZZ:-$TOP/build-fuzz}

"$HERE/build.sh" "$OUT" >/dev/null
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

seed_data() {  # $1 harness -> unit-test data dirs whose inputs fit it
    case "$1" in
    fuzz-payload) echo payload pyjson ;;
    fuzz-output) echo pyjson pyrepr ;;
    fuzz-form) echo form ;;
    *) ;;
    esac
}

failed=0
for h in "$OUT"/fuzz-*; do
    [ -x "$h" ] || continue
    name=$(basename "$h")
    work="$OUT/corpus-$name"
    mkdir -p "$work" "$OUT/artifacts-$name"
    cp -n "$HERE/corpus/$name"/* "$work/" 2>/dev/null || true
    # the whole-connection harness takes HTTP requests too
    [ "$name" = fuzz-server ] && { cp -n "$HERE/corpus/fuzz-http"/* "$work/" 2>/dev/null || true; }
    # the Authorization harness: every header value of tests/data/auth
    if [ "$name" = fuzz-auth ]; then
        for f in "$TOP/tests/data/auth"/*/authorization; do
            cp "$f" "$work/data-auth-$(basename "$(dirname "$f")")"
        done
    fi
    for d in $(seed_data "$name"); do
        for f in "$TOP/tests/data/$d"/*/input; do
            # payload harness: byte 0 selects uploaded files; form harness:
            # byte 0 = feed size, then the Content-Type line
            if [ "$name" = fuzz-form ]; then
                { printf '\007'; head -n1 "$(dirname "$f")/content-type"; cat "$f"; } \
                    >"$work/data-$d-$(basename "$(dirname "$f")")"
            elif [ "$name" = fuzz-payload ]; then
                { printf '\001'; cat "$f"; } >"$work/data-$d-$(basename "$(dirname "$f")")"
            else
                cp "$f" "$work/data-$d-$(basename "$(dirname "$f")")"
            fi
        done
    done
    # 1. every committed seed/reproducer must pass as is
    if ! "$h" -runs=0 -artifact_prefix="$OUT/artifacts-$name/" "$HERE/corpus/$name" >"$OUT/replay-$name.log" 2>&1; then
        echo "FAIL $name: committed corpus replay"; tail -n 30 "$OUT/replay-$name.log"; failed=1; continue
    fi
    # 2. fuzz for SECS
    start=$(date +%s)
    if "$h" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
            -artifact_prefix="$OUT/artifacts-$name/" -print_final_stats=1 "$work" >"$OUT/fuzz-$name.log" 2>&1; then
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/fuzz-$name.log")
        cov=$(grep -o 'cov: [0-9]*' "$OUT/fuzz-$name.log" | tail -1)
        echo "ok   $name: ${execs:-?} execs, $cov, $(( $(date +%s) - start ))s"
    else
        echo "FAIL $name (log: $OUT/fuzz-$name.log, reproducer in $OUT/artifacts-$name/)"
        grep -A 25 -m1 -E '^==[0-9]+==ERROR|runtime error|deadly signal|ERROR: libFuzzer' "$OUT/fuzz-$name.log" || tail -n 30 "$OUT/fuzz-$name.log"
        failed=1
    fi
done
[ $failed = 0 ] && echo "fuzz smoke: all harnesses passed (${SECS}s each)"
exit $failed
