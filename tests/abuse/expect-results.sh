# SPDX-License-Identifier: Apache-2.0
# Sourced by the abuse suites' sabotage scripts: whether each named test
# FAILED (or PASSED) in a pytest -rA output. Sets rc=1 when one did not.
#   expect_tests FAILED|PASSED OUT WHY TEST...
expect_tests() {
        local want=$1 out=$2 why=$3 t
        shift 3
        for t in "$@"; do
                if grep -q "^$want .*::$t\b" "$out"; then
                        echo "   $want $why, as it must: $t"
                else
                        echo "   NOT $want $why: $t" >&2
                        rc=1
                fi
        done
}
