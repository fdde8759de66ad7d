#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# make check: the man pages render without warnings and carry a whatis
# line; the configuration keys the parser accepts (src/conf.c), the
# README's configuration table and codejail.json(5) are the same set, so
# the documents cannot drift from the code; every source names its license.
set -uo pipefail
: "${top_srcdir:?}"
for tool in man lexgrog; do
        if ! command -v "$tool" >/dev/null; then
                echo "docs-suite: SKIP: '$tool' missing (package man-db); tests/run-all.sh installs it"
                exit 77
        fi
done
pass=0 fail=0
ok() { echo "ok   $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }

for page in "$top_srcdir"/units/man/*.[0-9]; do
        warnings=$(MANWIDTH=80 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null)
        if [ -z "$warnings" ]; then ok "$(basename "$page"): no groff warnings"; else bad "$(basename "$page"): $warnings"; fi
        if lexgrog "$page" >/dev/null 2>&1; then ok "$(basename "$page"): whatis: $(lexgrog "$page" | cut -d'"' -f2)"
        else bad "$(basename "$page"): lexgrog finds no NAME line"; fi
done

code=$(sed -n '/^int config_parse(/,/^}/p' "$top_srcdir/src/conf.c" | grep -o 'streq_safe(k, "[a-z_]*")' |
        sed 's/.*"\(.*\)")/\1/' | sort -u)
readme=$(sed -n '/^## Configuration/,/^## /p' "$top_srcdir/README.md" | grep -o '^| `[a-z_]*`' | tr -d '|` ' | sort -u)
manpage=$(sed -n '/^\.SH KEYS/,/^\.SH /p' "$top_srcdir/units/man/codejail.json.5" | grep -o '^\.BR [a-z_]* " (' |
        awk '{print $2}' | sort -u)
[ -n "$code" ] || bad "no keys found in src/conf.c"
if [ "$code" = "$readme" ]; then ok "README configuration table = keys of src/conf.c ($(echo $code | wc -w))"
else bad "README vs src/conf.c: $(diff <(echo "$code") <(echo "$readme") | grep '^[<>]' | tr '\n' ' ')"; fi
if [ "$code" = "$manpage" ]; then ok "codejail.json(5) keys = keys of src/conf.c"
else bad "codejail.json(5) vs src/conf.c: $(diff <(echo "$code") <(echo "$manpage") | grep '^[<>]' | tr '\n' ' ')"; fi

# Every source file says its license (issue 15; debian/copyright, COPYING).
# src/seccomp-bpf.h is generated (in the build tree unless built in place).
unlabelled=$(cd "$top_srcdir" && find src tests api_tests units apparmor -type f \
        \( -name '*.c' -o -name '*.h' -o -name '*.py' -o -name '*.sh' \) \
        -not -path 'tests/data/*' -not -path '*/corpus/*' -not -path '*/__pycache__/*' \
        -not -name seccomp-bpf.h -not -name 'test-*.log' |
        xargs grep -L 'SPDX-License-Identifier: Apache-2.0' | sort)
if [ -z "$unlabelled" ]; then ok "every C, Python and shell source carries SPDX-License-Identifier: Apache-2.0"
else bad "no SPDX line: $(echo $unlabelled)"; fi
if grep -q 'Apache License' "$top_srcdir/COPYING" 2>/dev/null; then ok "COPYING is the Apache License"
else bad "COPYING missing or not the Apache License"; fi

echo "$pass passed, $fail failed"
[ $fail = 0 ]
