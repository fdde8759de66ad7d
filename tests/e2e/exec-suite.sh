#!/bin/sh
# make check tier: the api_tests suite through `codejaild --exec` (no HTTP),
# i.e. every SPEC §4/§6 property through the real jail, inside a
# loopback-only network namespace. Needs root (namespaces, setresuid).
set -eu
: "${top_srcdir:?}" "${top_builddir:?}"
if [ "$(id -u)" != 0 ]; then
        echo "exec-suite: FAIL: the jail needs root (CI runs as root); not skipping" >&2
        exit 1
fi
CODEJAILD="$top_builddir/src/codejaild" CODEJAILD_SABOTAGE="$top_builddir/src/codejaild-sabotage" \
        exec "$top_srcdir/api_tests/run.sh" exec -p no:cacheprovider -q
