#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# make check tier: the api_tests suite through `codejaild --exec` (no HTTP),
# i.e. every property of codejail-service(7) "Execution semantics" and
# "What the jail allows and denies" through the real jail, inside a loopback-only network
# namespace. Needs root (namespaces, setresuid).
set -eu
: "${top_srcdir:?}" "${top_builddir:?}"
# Without root (a build daemon): SKIP, naming why; tests/run-all.sh fails
# the check tier when anything was skipped.
if [ "$(id -u)" != 0 ]; then
        echo "exec-suite: SKIP: the jail needs root (namespaces, setresuid, mounts); tests/run-all.sh runs it as root"
        exit 77
fi
if ! /usr/bin/python3 -c 'import pytest, requests' 2>/dev/null; then
        echo "exec-suite: SKIP: python3-pytest or python3-requests missing; tests/run-all.sh installs them"
        exit 77
fi
# Every payload sent is recorded for wrapper-differential.sh.
rm -f "$top_builddir/tests/e2e/api-corpus.jsonl"
API_TEST_RECORD="$top_builddir/tests/e2e/api-corpus.jsonl" \
CODEJAILD="$top_builddir/src/codejaild" CODEJAILD_SABOTAGE="$top_builddir/src/codejaild-sabotage" \
        exec "$top_srcdir/api_tests/run.sh" exec -p no:cacheprovider -q
