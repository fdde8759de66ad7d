#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# make check: the wrapper's fast path (json's C accelerator, src/wrapper.c)
# writes byte for byte what the json module path writes, on this host's
# Python, for a generated corpus and every payload the api_tests suite sent
# through exec-suite.sh (recorded there). Another release's Python: the
# real-host tier runs tests/wrapper/differential.py in its Debian 13 build
# root (lib.sh cj_wrapper_differential_in; the generated corpus).
set -uo pipefail
: "${top_srcdir:?}" "${top_builddir:?}"
W=$(mktemp "$top_builddir/tests/e2e/cj-wrapper.XXXXXXXX")
trap 'rm -f "$W"' EXIT
"$top_builddir/tests/wrapper/print-wrapper" 0 >"$W" || { echo "wrapper-differential: print-wrapper failed"; exit 1; }
# The recorded payloads try DNS and sockets (run bare, without the jail):
# only in a loopback-only network namespace, which needs root.
if [ "$(id -u)" != 0 ]; then
        echo "wrapper-differential: SKIP: the recorded api_tests corpus runs in a network namespace of its own (root)"
        exit 77
fi
if [ ! -s "$top_builddir/tests/e2e/api-corpus.jsonl" ]; then
        echo "wrapper-differential: FAIL: no recorded api_tests corpus (exec-suite.sh records it)"
        exit 1
fi
# and with a /tmp of their own (some list it): the same answer twice. The
# build tree may itself be under /tmp (a package build): the script, the
# wrapper and the corpus are handed over as open files, which the fresh /tmp
# does not hide.
unshare --net --mount --propagation private -- sh -c 'mount -t tmpfs -o mode=1777 tmpfs /tmp && exec "$@"' sh \
        /usr/bin/python3 /dev/fd/3 --wrapper /dev/fd/4 --corpus /dev/fd/5 \
        3<"$top_srcdir/tests/wrapper/differential.py" 4<"$W" 5<"$top_builddir/tests/e2e/api-corpus.jsonl"
