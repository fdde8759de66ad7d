#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# make check: the man pages render without warnings and carry a whatis
# line; the configuration keys the parser accepts (src/conf.c), the
# README's configuration table and codejail.json(5) are the same set, so
# the documents cannot drift from the code; every source names its license;
# references name README sections that exist, not an out-of-tree document.
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

# The metrics count by CODEJAIL_STATUS (src/metrics.c's table, every other
# value is "other"): the table and the statuses the README names are the
# same set, so a status added to one is added to the other.
prefixes='(http|invalid|disabled|error|queue|stopped|auth|health|executed|metrics)'
table=$(sed -n '/status_rows\[\] = {/,/^};/p' "$top_srcdir/src/metrics.c" |
        grep -oE '\{ "[a-z_.]+", [0-9]+ \}' | grep -oE '"[a-z_.]+"' | tr -d '"' | grep -v '^other$' | sort -u)
named=$(grep -oE "\`$prefixes\.[a-z_.]*[a-z_]\`" "$top_srcdir/README.md" | tr -d '`' | grep -vx 'health\.json' | sort -u)
[ -n "$table" ] || bad "no statuses found in src/metrics.c"
if [ "$table" = "$named" ]; then ok "statuses counted by src/metrics.c = statuses the README names ($(echo $table | wc -w))"
else bad "src/metrics.c vs README statuses: $(diff <(echo "$table") <(echo "$named") | grep '^[<>]' | tr '\n' ' ')"; fi

# The README's errno table is api_tests/write_errno.py's, which the api_tests
# assert (ours) and tests/upstream/errno_upstream.py measures (upstream).
want=$(/usr/bin/python3 "$top_srcdir/api_tests/write_errno.py" --markdown)
have=$(sed -n "/^### Writes outside tmp\/: upstream's errno and ours/,/^### /p" "$top_srcdir/README.md" | grep '^|')
if [ -n "$want" ] && [ "$want" = "$have" ]; then ok "README's errno table = api_tests/write_errno.py ($(grep -c '' <<<"$want") lines)"
else bad "README's errno table differs from api_tests/write_errno.py --markdown: $(diff <(echo "$want") <(echo "$have") | grep '^[<>]' | head -4 | tr '\n' ' ')"; fi

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

# The contract lives in the repository (issue 15): the README's sections and
# the man pages state it, so nothing may cite the section numbers of the
# out-of-tree specification any more, and every section a reference names
# must exist as a heading: README followed by quoted names, on one line
# (README.md, or units/README.md and the like for a path-qualified one).
# Tracked files where there is a git checkout, else what a tarball carries.
if git -C "$top_srcdir" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        files=$(cd "$top_srcdir" && git ls-files)
else
        files=$(cd "$top_srcdir" && find README.md configure.ac Makefile.am src tests api_tests units apparmor debian \
                -type f -not -path '*/corpus/*' -not -path '*/__pycache__/*' -not -name '*.log' -not -name '*.trs' \
                -not -name '*.o' 2>/dev/null)
fi
# SPE[C]: so that this file does not match itself.
cites=$(cd "$top_srcdir" && echo "$files" | LC_ALL=C xargs -r -d "\n" grep -nIE '\bSPE[C]( §| section|\.md)' 2>/dev/null)
if [ -z "$cites" ]; then ok "no file cites the out-of-tree specification's sections"
else bad "cites the out-of-tree specification (name the README section instead): $(echo "$cites" | cut -c1-100 | tr '\n' ' ')"; fi
headings() { awk '/^```/ { fence = !fence; next } !fence && /^#+ / { sub(/^#+ /, ""); print }' "$1"; }
refs=$(cd "$top_srcdir" && echo "$files" |
        xargs -r -d "\n" grep -ohIE '([[:alnum:]_-]+/)?README(\.md)? "[^"]+"((, | and | or |/)"[^"]+")*' 2>/dev/null | sort -u)
n=0 missing=
while IFS= read -r ref; do
        [ -n "$ref" ] || continue
        dir=${ref%%README*}
        doc="$top_srcdir/${dir}README.md"
        [ -f "$doc" ] || { missing="$missing ${dir}README.md?"; continue; }
        while IFS= read -r name; do
                n=$((n + 1))
                grep -qxF -- "$name" <<<"$(headings "$doc")" || missing="$missing ${dir}README:\"$name\""
        done < <(grep -oE '"[^"]+"' <<<"${ref#*README}" | tr -d '"')
done <<<"$refs"
if [ "$n" -gt 0 ] && [ -z "$missing" ]; then ok "every README section a reference names is a heading ($n references)"
elif [ "$n" = 0 ]; then bad "no README section references found (the extraction is broken)"
else bad "references to README sections that do not exist:$missing"; fi

# What happens to a queued request whose client hangs up (src/admit.c):
# both documents that say it leaves the queue unexecuted also say that a
# hang-up within the half-close grace (ADMIT_HALF_CLOSE_GRACE_MS) is taken
# for a half-close and executed. A paragraph per check, outside code.
grace_ms=$(sed -n 's/^#define ADMIT_HALF_CLOSE_GRACE_MS \([0-9]*\).*/\1/p' "$top_srcdir/src/admit.h")
if [ "$grace_ms" = 1000 ]; then grace_re='first second|within 1 s'; else grace_re="within $((grace_ms / 1000)) s"; fi
for doc in README.md units/README.md; do
        paras=$(awk -v RS= '/client hangs up/ && /queue/' "$top_srcdir/$doc" | tr '\n' ' ')
        if [ -z "$paras" ]; then
                bad "$doc: no paragraph says what a queued request's hang-up does"
        elif awk -v RS= '/client hangs up/ && /queue/' "$top_srcdir/$doc" | awk -v RS= -v re="$grace_re" '$0 !~ re { bad = 1 } END { exit bad }'; then
                ok "$doc: a queued request's hang-up, and the ${grace_ms} ms it may be a half-close"
        else
                bad "$doc: says a queued request whose client hangs up is not executed, without the ${grace_ms} ms half-close grace"
        fi
done

echo "$pass passed, $fail failed"
[ $fail = 0 ]
