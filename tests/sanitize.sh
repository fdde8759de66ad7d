#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Sanitizer tier:
#  1. the whole unit + e2e suite (`make check`: cmocka units, selfcheck suite,
#     api_tests through --exec) and the HTTP api_tests (run.sh http) with an
#     ASan+UBSan build (configure --enable-sanitizers) in build-E-san/;
#     plus the abuse suite and a 300-request soak against sanitized instances;
#  2. one socket-activated instance per connection under valgrind memcheck
#     (plain build in build-E/) for a handful of requests.
# Every sanitizer report goes to a log file (log_path), including reports
# from forked helpers and socket-activated instances whose exit status
# nobody sees; any such file, any failing test, or any valgrind error makes
# this script exit non-zero.
#
#   tests/sanitize.sh            SAN_BUILD / PLAIN_BUILD override the dirs
#
# Valgrind 3.19 does not know seccomp(2) (syscall 317). The serving process
# installs its own filter before reading a request (src/harden.c), so
# memcheck runs src/codejaild-sabotage (the same sources) with only that one
# step off (CODEJAIL_SABOTAGE=self_seccomp), its private read-only
# filesystem view (self_mounts: valgrind 3.19 lacks open_tree and
# mount_setattr) and the parsing side's drop (privsep: its own seccomp
# filter; the split itself stays, memcheck follows the fork); the jail
# child's own seccomp(2) load still
# fails, so a code-exec answers 500 "not correctly configured" (the set-up
# failure path). Memcheck thus covers the HTTP reader, forms, payload
# checks, routing, health, logging and that error path; the execution path
# itself is covered by ASan in part 1.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
SAN_BUILD=${SAN_BUILD:-$TOP/build-E-san}
PLAIN_BUILD=${PLAIN_BUILD:-$TOP/build-E}
JOBS=$(nproc)

if [ "${CJ_SAN_IN_NS:-}" != 1 ]; then
    # private /tmp and PID namespace: the suites' "no jail dir / no sandbox
    # process remains" checks see this run only, not other runs on the host.
    # (Not a network namespace: each part makes the one it needs -- the
    # selfcheck suite one with a route for its netns_self case
    # (routed-netns.sh), the HTTP and valgrind parts loopback-only ones.)
    exec unshare --mount --pid --fork --mount-proc -- env CJ_SAN_IN_NS=1 \
        "$TOP/tests/private-tmp.sh" "$TOP" "$SAN_BUILD" "$PLAIN_BUILD" -- "$0" "$@"
fi

build() {  # $1 dir  $2.. configure args
    local d=$1; shift
    mkdir -p "$d"
    ( cd "$d" && { [ -f Makefile ] || "$TOP/configure" -q "$@" >configure.out 2>&1; } && make -j"$JOBS" -s >make.out 2>&1 ) ||
        { echo "sanitize: build in $d failed"; tail -n 30 "$d"/make.out "$d"/configure.out 2>/dev/null; exit 1; }
}
build "$SAN_BUILD" --enable-sanitizers
build "$PLAIN_BUILD"

LOGS=$SAN_BUILD/san-logs
rm -rf "$LOGS" && mkdir -p "$LOGS" && chmod 1777 "$LOGS"
# halt on the first report; reports to files (children and socket-activated
# instances included); leaks checked at every exit (helper processes leave
# through _exit, which LeakSanitizer does not see, so no false alarms).
export ASAN_OPTIONS="log_path=$LOGS/asan:halt_on_error=1:abort_on_error=0:detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1"
export UBSAN_OPTIONS="log_path=$LOGS/ubsan:halt_on_error=1:print_stacktrace=1"
export LSAN_OPTIONS="log_path=$LOGS/lsan"
fail=0
step() { echo "== $*"; }

# The serving process hardens itself (src/harden.c: not dumpable, a seccomp
# filter): LeakSanitizer's at-exit check needs ptrace and dies with "fatal
# error" there. So leaks are checked by LSan in the unit tests (which never
# harden) and by valgrind memcheck for the instances; ASan/UBSan proper stay
# on everywhere.
ASAN_NOLEAK=${ASAN_OPTIONS/detect_leaks=1/detect_leaks=0}
mkvar() {  # a variable of the build's Makefile (test lists)
    make -s -C "$SAN_BUILD" -f Makefile -f <(printf 'print-%%:\n\t@echo $(%s)\n' '$*') "print-$1"
}
check_pass() {  # $1 label  $2 ASAN_OPTIONS  $3 TESTS
    local start=$(date +%s)
    if (cd "$SAN_BUILD" && ASAN_OPTIONS=$2 make -j"$JOBS" check TESTS="$3" >"check-$1.out" 2>&1); then
        echo "ok   make check, $1 ($(grep -E '^# (PASS|FAIL|ERROR)' "$SAN_BUILD/check-$1.out" | tr '\n' ' ')) $(( $(date +%s) - start ))s"
    else
        echo "FAIL make check, $1"; grep -E '^(FAIL|ERROR):|^# |error:' "$SAN_BUILD/check-$1.out"
        for f in "$SAN_BUILD"/tests/*/*.log; do grep -q -E '^:test-result: (FAIL|ERROR)' "${f%.log}.trs" 2>/dev/null && tail -n 40 "$f"; done
        fail=1
    fi
}
step "ASan+UBSan: make check in $SAN_BUILD"
UNIT=$(mkvar unit_tests) E2E=$(mkvar e2e_tests)
[ -n "$UNIT" ] && [ -n "$E2E" ] || { echo "FAIL no test lists in $SAN_BUILD/Makefile"; exit 1; }
check_pass unit "$ASAN_OPTIONS" "$UNIT"
check_pass e2e "$ASAN_NOLEAK" "$E2E"

step "ASan+UBSan: api_tests over HTTP (socket-activated, one instance per connection)"
start=$(date +%s)
# the wrapper keeps the sanitizer options across systemd-socket-activate,
# which passes the instance only the LISTEN_* and -E variables
WRAP=$LOGS/codejaild-san
cat >"$WRAP" <<WRAPEOF
#!/bin/sh
export ASAN_OPTIONS='$ASAN_NOLEAK' UBSAN_OPTIONS='$UBSAN_OPTIONS' LSAN_OPTIONS='$LSAN_OPTIONS'
exec '$SAN_BUILD/src/codejaild' "\$@"
WRAPEOF
chmod 755 "$WRAP"
if CODEJAILD=$WRAP "$TOP/api_tests/run.sh" http -p no:cacheprovider -q >"$LOGS/http.out" 2>&1; then
    echo "ok   api_tests http ($(tail -n 1 "$LOGS/http.out")) $(( $(date +%s) - start ))s"
else
    echo "FAIL api_tests http"; tail -n 40 "$LOGS/http.out"; fail=1
fi

step "ASan+UBSan: abuse suite and a short soak against sanitized instances"
start=$(date +%s)
# Not test_memory*.py: their bound is on the service's memory, and ASan's
# shadow and quarantine are not (the abuse tier measures the plain build;
# the same shapes run under ASan in test-jsondoc and the fuzzers).
if CODEJAILD=$WRAP "$HERE/abuse/run.sh" -q --ignore="$HERE/abuse/test_memory.py" \
        --ignore="$HERE/abuse/test_memory_output.py" >"$LOGS/abuse.out" 2>&1; then
    echo "ok   abuse ($(tail -n 1 "$LOGS/abuse.out")) $(( $(date +%s) - start ))s"
else
    echo "FAIL abuse"; tail -n 40 "$LOGS/abuse.out"; fail=1
fi
start=$(date +%s)
if CODEJAILD=$WRAP "$HERE/soak/run.sh" 300 16 >"$LOGS/soak.out" 2>&1; then
    echo "ok   soak 300 ($(grep '^soak: [0-9]' "$LOGS/soak.out")) $(( $(date +%s) - start ))s"
else
    echo "FAIL soak"; tail -n 20 "$LOGS/soak.out"; fail=1
fi

step "valgrind memcheck: socket-activated instances"
start=$(date +%s)
V=$(mktemp -d /tmp/cj-valgrind.XXXXXXXX)
mkdir -p "$V/state"
echo "{\"enabled\": true, \"state_dir\": \"$V/state\", \"health_max_age_s\": 86400}" >"$V/c.json"
"$PLAIN_BUILD/src/codejaild" --config "$V/c.json" --selfcheck >/dev/null 2>&1 || { echo "FAIL selfcheck"; fail=1; }
PORT=18090
unshare --net -- bash -c 'ip link set lo up && exec "$0" "$@"' \
systemd-socket-activate -l "127.0.0.1:$PORT" -a -E CODEJAIL_SABOTAGE=self_seccomp,self_mounts,privsep \
    valgrind -q --tool=memcheck --trace-children=no --leak-check=full --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect --track-fds=no --error-exitcode=99 --log-file="$V/vg.%p" \
    "$PLAIN_BUILD/src/codejaild-sabotage" --config "$V/c.json" 2>"$V/service.log" &
SA=$!
for _ in $(seq 100); do nsenter --net=/proc/$SA/ns/net ss -Hltn "sport = :$PORT" 2>/dev/null | grep -q . && break; sleep 0.05; done
sleep 1
nsenter --net=/proc/$SA/ns/net -- /usr/bin/python3 "$HERE/valgrind_requests.py" "$PORT" || fail=1
kill "$SA" 2>/dev/null; wait "$SA" 2>/dev/null
n=$(ls "$V"/vg.* 2>/dev/null | wc -l)
bad=$(cat "$V"/vg.* 2>/dev/null | grep -c '^==[0-9]*==' || true)
if [ "$n" -ge 8 ] && [ "$bad" = 0 ]; then
    echo "ok   valgrind: $n instances, 0 errors $(( $(date +%s) - start ))s"
else
    echo "FAIL valgrind: $n instance logs, $bad report lines"; cat "$V"/vg.* | head -n 80; fail=1
fi
rm -rf "$V"

# The parsing side of each instance (src/privsep.c) cannot open a log file
# after its drop: it was handed privsep-report.<pid> beforehand, empty
# unless something was reported.
find "$LOGS" -maxdepth 1 -name 'privsep-report.*' -empty -delete
for f in "$LOGS"/privsep-report.*; do [ -e "$f" ] && mv "$f" "$LOGS/asan.${f##*/}"; done
reports=$(ls "$LOGS"/asan.* "$LOGS"/ubsan.* "$LOGS"/lsan.* 2>/dev/null | wc -l)
if [ "$reports" != 0 ]; then
    echo "FAIL $reports sanitizer report file(s):"; ls "$LOGS"/asan.* "$LOGS"/ubsan.* "$LOGS"/lsan.* 2>/dev/null | head -n 10
    cat "$LOGS"/asan.* "$LOGS"/ubsan.* "$LOGS"/lsan.* 2>/dev/null | head -n 80; fail=1
fi
[ $fail = 0 ] && echo "sanitize: all clean" || echo "sanitize: FAILED"
exit $fail
