#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The admission-control tests can fail: the same tests against
# the sabotage build with admission control switched off
# (CODEJAIL_SABOTAGE=admission) -- every test below must FAIL, the
# others must still pass.
#   tests/abuse/queue-sabotage.sh    (CODEJAILD, CODEJAILD_SABOTAGE: the two builds)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
: "${CODEJAILD_SABOTAGE:=$(dirname "${CODEJAILD:-$TOP/build-main/src/codejaild}")/codejaild-sabotage}"
export CODEJAILD_SABOTAGE CJ_QUEUE_SABOTAGE=1
MUST_FAIL="test_queue_timeout_answers_503 test_client_gone_leaves_the_queue_without_executing
test_waiters_are_served_in_arrival_order test_kill_9_of_waiting_and_running_instances_leaks_no_slot
test_selfcheck_is_never_starved test_half_closing_client_is_answered
test_half_closing_client_that_resets_leaves_the_queue test_client_that_closes_at_once_leaves_the_queue"
out=$(mktemp /tmp/cj-queue-sabotage.XXXXXX)
trap 'rm -f "$out"' EXIT
"$HERE/with-service.sh" /usr/bin/python3 -m pytest -p no:cacheprovider -q -rA "$HERE/test_queue.py" \
        -k "not burst_of_256" -p no:randomly >"$out" 2>&1 || true
rc=0
# shellcheck source=expect-results.sh
. "$HERE/expect-results.sh"
# shellcheck disable=SC2086
expect_tests FAILED "$out" "with admission control off" $MUST_FAIL
expect_tests PASSED "$out" "either way" test_rejections_and_health_never_queue
[ $rc = 0 ] || tail -40 "$out" >&2
exit $rc
