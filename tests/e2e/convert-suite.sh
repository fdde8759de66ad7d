#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# make check: codejail-convert-config on tests/data/convert (upstream's
# production settings, every limit at 0, codejail's defaults, overrides, the
# same keys as JSON, an LMS's YAML; and the inputs it must refuse), then each
# converted configuration through the real jail: the selfcheck passes, code
# runs, and every limit -- 0 included -- means inside the jail what it means
# in codejail (tests/convert/check.py). ~10 s.
set -eu
: "${top_srcdir:?}" "${top_builddir:?}"
if ! /usr/bin/python3 -c 'import yaml' 2>/dev/null; then
        echo "convert-suite: SKIP: python3-yaml missing; tests/run-all.sh installs it"
        exit 77
fi
TOOL="$top_srcdir/src/codejail-convert-config"
DATA="$top_srcdir/tests/data/convert"
if [ "$(id -u)" != 0 ]; then
        /usr/bin/python3 "$top_srcdir/tests/convert/check.py" --tool "$TOOL" --data "$DATA" || exit 1
        echo "convert-suite: SKIP: running the converted configurations needs root (the jail); tests/run-all.sh runs it as root"
        exit 77
fi
exec /usr/bin/python3 "$top_srcdir/tests/convert/check.py" --tool "$TOOL" --data "$DATA" \
        --codejaild "$top_builddir/src/codejaild"
