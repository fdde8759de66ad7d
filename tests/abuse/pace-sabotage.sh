#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The pacing tests can fail: the same tests against the sabotage build with
# pacing switched off (CODEJAIL_SABOTAGE=pacing: the FRESH byte held to the
# end, no pause, no bound on CPU-bound executions) -- every test must FAIL.
#   tests/abuse/pace-sabotage.sh    (CODEJAILD, CODEJAILD_SABOTAGE: the two builds)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
: "${CODEJAILD_SABOTAGE:=$(dirname "${CODEJAILD:-$TOP/build-main/src/codejaild}")/codejaild-sabotage}"
export CODEJAILD_SABOTAGE CJ_PACE_SABOTAGE=1
MUST_FAIL="test_sleeping_execution_does_not_hold_back_a_quick_one
test_cpu_bound_executions_take_turns_and_reach_their_end test_kill_9_of_a_paused_execution_leaves_nothing
test_paused_program_that_continues_itself_is_killed test_sigchld_storm_does_not_hide_cpu
test_children_reaped_by_no_one_still_count test_chain_of_short_processes_is_counted
test_children_waited_for_between_looks_count"
out=$(mktemp /tmp/cj-pace-sabotage.XXXXXX)
trap 'rm -f "$out"' EXIT
"$HERE/with-service.sh" /usr/bin/python3 -m pytest -p no:cacheprovider -q -rA "$HERE/test_pace.py" \
        -p no:randomly >"$out" 2>&1 || true
rc=0
# shellcheck source=expect-results.sh
. "$HERE/expect-results.sh"
# shellcheck disable=SC2086
expect_tests FAILED "$out" "with pacing off" $MUST_FAIL
[ $rc = 0 ] || tail -40 "$out" >&2
exit $rc
