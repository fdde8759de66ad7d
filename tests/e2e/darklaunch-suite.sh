#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# make check: edx-platform's darklaunch comparison, replayed on every payload
# exec-suite.sh recorded (tests/darklaunch/compare.py): an upstream-equivalent
# local execution and this service, the operator's YAML converted for the
# service, the platform's emsg normalisation; fails on any difference that
# is not listed with its reason. In a network namespace of its own (the
# upstream-equivalent arm has no AppArmor). 29-37 s measured on this 2-core host
# while others ran their tests (load ~3.7).
set -eu
: "${top_srcdir:?}" "${top_builddir:?}"
if [ "$(id -u)" != 0 ]; then
        echo "darklaunch-suite: SKIP: both arms need root (the jail; the sandbox UID of the upstream arm)"
        exit 77
fi
if ! /usr/bin/python3 -c 'import yaml, six' 2>/dev/null; then
        echo "darklaunch-suite: SKIP: python3-yaml or python3-six missing; tests/run-all.sh installs them"
        exit 77
fi
CORPUS="$top_builddir/tests/e2e/api-corpus.jsonl"
if [ ! -s "$CORPUS" ]; then
        echo "darklaunch-suite: FAIL: no recorded api_tests corpus (exec-suite.sh records it)"
        exit 1
fi
exec unshare --net -- /usr/bin/python3 -B "$top_srcdir/tests/darklaunch/compare.py" --corpus "$CORPUS" \
        --codejaild "$top_builddir/src/codejaild" --upstream-config "$top_srcdir/tests/darklaunch/api-tests.yml" \
        --converter "$top_srcdir/src/codejail-convert-config"
