#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# make check: the man pages render without warnings and carry a whatis
# line; the documents cannot drift from the code: the configuration keys
# the parser accepts (src/conf.c) are codejail.json(5)'s, the log statuses
# src/ emits are codejail-service(7)'s, its errno list is the one the
# api_tests assert; every source names its license; what a user reads
# names no issue number, cites no document, link, path or section that is
# absent, and calls no host supported that no test tier boots.
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
manpage=$(sed -n '/^\.SH KEYS/,/^\.SH /p' "$top_srcdir/units/man/codejail.json.5" | grep -o '^\.BR [a-z_]* " (' |
        awk '{print $2}' | sort -u)
[ -n "$code" ] || bad "no keys found in src/conf.c"
if [ "$code" = "$manpage" ]; then ok "codejail.json(5) keys = keys of src/conf.c ($(echo $code | wc -w))"
else bad "codejail.json(5) vs src/conf.c: $(diff <(echo "$code") <(echo "$manpage") | grep '^[<>]' | tr '\n' ' ')"; fi

# codejail-service(7) is the contract (installed: man codejail-service).
svc="$top_srcdir/units/man/codejail-service.7"
# Its errno list is api_tests/write_errno.py's, which the api_tests assert
# (ours) and tests/upstream/errno_upstream.py measures (upstream).
want=$(/usr/bin/python3 "$top_srcdir/api_tests/write_errno.py" --man)
have=$(sed -n '/^\.\\" BEGIN errno table/,/^\.\\" END errno table/p' "$svc" | sed '1d;$d')
if [ -n "$want" ] && [ "$want" = "$have" ]; then ok "codejail-service(7)'s errno list = api_tests/write_errno.py --man ($(grep -c '^\.TP' <<<"$want") entries)"
else bad "codejail-service(7)'s errno list differs from api_tests/write_errno.py --man: $(diff <(echo "$want") <(echo "$have") | grep '^[<>]' | head -4 | tr '\n' ' ')"; fi

# Every log status src/ can emit is listed in codejail-service(7) "Statuses",
# and nothing else is.
src_status=$(cd "$top_srcdir/src" && grep -ohE '"(executed|invalid|disabled|http|health|auth|queue|stopped|error|metrics)\.[a-z_]+(\.[a-z_]+)*"' -- *.c |
        tr -d '"' | grep -vE '\.(h|c|json)$' | sort -u)
man_status=$(sed -n '/^\.SS Statuses/,/^\.S[HS] /p' "$svc" | sed -n 's/^\.B \([a-z_]*\.[a-z_.]*\)$/\1/p' | sort -u)
[ -n "$src_status" ] || bad "no log statuses found in src/"
if [ "$src_status" = "$man_status" ]; then ok "codejail-service(7) statuses = the log statuses of src/ ($(echo $src_status | wc -w))"
else bad "codejail-service(7) statuses vs src/: $(diff <(echo "$src_status") <(echo "$man_status") | grep '^[<>]' | tr '\n' ' ')"; fi

# The metrics count by CODEJAIL_STATUS (src/metrics.c's table, every other
# value is "other"): the table and codejail-service(7)'s statuses are the
# same set, so a status added to one is added to the other; but
# invalid.payload, the fallback of a payload refusal without a more specific
# status (server.c), which the metrics count as "other".
table=$(sed -n '/status_rows\[\] = {/,/^};/p' "$top_srcdir/src/metrics.c" |
        grep -oE '\{ "[a-z_.]+", [0-9]+ \}' | grep -oE '"[a-z_.]+"' | tr -d '"' | grep -v '^other$' | sort -u)
[ -n "$table" ] || bad "no statuses found in src/metrics.c"
counted=$(grep -vx 'invalid\.payload' <<<"$man_status")
if [ "$table" = "$counted" ]; then ok "statuses counted by src/metrics.c = codejail-service(7) statuses ($(echo $table | wc -w))"
else bad "src/metrics.c vs codejail-service(7) statuses: $(diff <(echo "$table") <(echo "$counted") | grep '^[<>]' | tr '\n' ' ')"; fi

# Every source file says its license (debian/copyright, COPYING).
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

# What a user reads: every Markdown document, the man pages, debian/'s
# documents and the comments of the shipped files (units/, apparmor/, the
# converter). Tracked files where there is a git checkout, else what a
# tarball carries.
if git -C "$top_srcdir" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        files=$(cd "$top_srcdir" && git ls-files)
else
        files=$(cd "$top_srcdir" && find README.md configure.ac Makefile.am src tests api_tests units apparmor debian \
                -type f -not -path '*/corpus/*' -not -path '*/__pycache__/*' -not -name '*.log' -not -name '*.trs' \
                -not -name '*.o' 2>/dev/null)
fi
userdocs=$(grep -E '(^|/)[^/]*\.md$|^units/|^apparmor/|^debian/|^src/codejail-convert-config$' <<<"$files" |
        grep -vE '^debian/(source/|rules$|tests/)')
tracked() { grep -qxF -- "$1" <<<"$files" || grep -q "^$1/" <<<"$files"; }

# No issue number where a user reads (the history is in the commits):
# "issue 16", "issues 12 and 14", "#16"; Debian's "Closes: #NNN" is the
# changelog's own convention.
issues=$(cd "$top_srcdir" && echo "$userdocs" | LC_ALL=C xargs -r -d "\n" grep -nIE \
        '\b[Ii]ssues? #?[0-9]+|(^|[^&[:alnum:]_/#-])#[0-9]+\b' 2>/dev/null | grep -vE 'Closes: #[0-9]+')
if [ -z "$issues" ]; then ok "no issue number in what a user reads ($(echo "$userdocs" | wc -l) files)"
else bad "issue numbers where a user reads: $(echo "$issues" | cut -c1-100 | tr '\n' ' ')"; fi

# No document cited that is not in the tree: the out-of-tree specification
# ("SPEC", its sections) in any file; in what a user reads, every relative
# Markdown link, and every backquoted path into the tree's directories, must
# exist (a build product counts when Makefile.am names it).
# SPE[C]: so that this file does not match itself.
if echo "$files" | grep -qE '(^|/)SPEC'; then cites=
else
        cites=$(cd "$top_srcdir" && { echo "$files" | LC_ALL=C xargs -r -d "\n" grep -nIE '\bSPE[C]( §| section|\.md)' 2>/dev/null
                echo "$userdocs" | LC_ALL=C xargs -r -d "\n" grep -nIwE 'SPE[C]' 2>/dev/null; } | sort -u)
fi
if [ -z "$cites" ]; then ok "no file cites the out-of-tree specification"
else bad "cites a specification that is not in the tree (name the man page section instead): $(echo "$cites" | cut -c1-100 | tr '\n' ' ')"; fi
absent= nlinks=0
while IFS= read -r doc; do
        case $doc in *.md) ;; *) continue ;; esac
        dir=$(dirname "$doc")
        while IFS= read -r target; do
                [ -n "$target" ] || continue
                nlinks=$((nlinks + 1))
                rel=$(realpath -m --relative-to="$top_srcdir" "$top_srcdir/$dir/${target%%#*}")
                tracked "$rel" || absent="$absent $doc:($target)"
        done < <(grep -oE '\]\([^)#]+(#[^)]*)?\)' "$top_srcdir/$doc" | sed 's/^](\(.*\))$/\1/' | grep -vE '^[a-z]+:')
        while IFS= read -r path; do
                [ -n "$path" ] || continue
                nlinks=$((nlinks + 1))
                path=${path%/}
                tracked "$path" || grep -qF -- "$path" "$top_srcdir/Makefile.am" || absent="$absent $doc:\`$path\`"
        done < <(grep -oE '`(src|tests|units|api_tests|apparmor|debian)/[^` ]*' "$top_srcdir/$doc" | tr -d '`' |
                grep -v '[*<>{}$|[]' | sort -u)
done <<<"$userdocs"
if [ "$nlinks" -gt 0 ] && [ -z "$absent" ]; then ok "every link and path the documents cite exists ($nlinks)"
elif [ "$nlinks" = 0 ]; then bad "no links or paths found in the documents (the extraction is broken)"
else bad "documents cite what is not in the tree:$absent"; fi

# Every section a reference names exists as a heading, on one line:
# [DIR/]README[.md] "Name" (a Markdown heading of that document), or
# PAGE(N) "Name" (a .SH or .SS of units/man/PAGE.N, case ignored), with
# more names joined by ", ", " and ", " or ", "/".
headings() { awk '/^```/ { fence = !fence; next } !fence && /^#+ / { sub(/^#+ /, ""); print }' "$1"; }
manheadings() { sed -n 's/^\.S[HS] //p' "$1" | tr -d '"'; }
refs=$(cd "$top_srcdir" && echo "$files" | grep -vxF tests/e2e/docs-suite.sh |
        xargs -r -d "\n" grep -ohIE '(([[:alnum:]_.-]+/)*README(\.md)?|[a-z][a-z.-]*\([1-8]\)) "[^"]+"((, | and | or |/)"[^"]+")*' 2>/dev/null | sort -u)
n=0 missing=
while IFS= read -r ref; do
        [ -n "$ref" ] || continue
        doc=${ref%% \"*}
        case $doc in
        *README*)
                file="$top_srcdir/${doc%%README*}README.md"
                [ -f "$file" ] || { missing="$missing $doc?"; continue; }
                list=$(headings "$file") icase= ;;
        *)
                page=${doc%(*} sect=${doc#*(}
                file="$top_srcdir/units/man/$page.${sect%)}"
                [ -f "$file" ] || { missing="$missing $doc?"; continue; }
                list=$(manheadings "$file") icase=-i ;;
        esac
        while IFS= read -r name; do
                n=$((n + 1))
                grep -qxF $icase -- "$name" <<<"$list" || missing="$missing $doc:\"$name\""
        done < <(grep -oE '"[^"]+"' <<<"${ref#"$doc"}" | tr -d '"')
done <<<"$refs"
if [ "$n" -gt 0 ] && [ -z "$missing" ]; then ok "every section a reference names is a heading ($n references)"
elif [ "$n" = 0 ]; then bad "no section references found (the extraction is broken)"
else bad "references to sections that do not exist:$missing"; fi

# Hosts: only a release a test tier boots may be called supported. The
# booted releases are realhost.sh's suites; anything else a user reads names
# (another Debian release, another distribution) stands in a paragraph, or
# table row, that says it is untested. Man pages are read as rendered.
declare -A debian_version=([bullseye]=11 [bookworm]=12 [trixie]=13 [forky]=14)
booted=
for suite in $(sed -n 's/^case \$SUITE in \([a-z|]*\)).*/\1/p' "$top_srcdir/tests/integration/realhost.sh" | tr '|' ' '); do
        [ -n "${debian_version[$suite]:-}" ] || { bad "realhost.sh boots '$suite', unknown here"; continue; }
        booted="$booted ${debian_version[$suite]}"
done
[ -n "$booted" ] || bad "no booted release found in tests/integration/realhost.sh"
others='Ubuntu|Fedora|RHEL|Red Hat|CentOS|Rocky|AlmaLinux|Arch Linux|openSUSE|SUSE|Alpine|Mint|Raspbian'
claims=
while IFS= read -r doc; do
        case $doc in
        *.md) text=$(awk '/^\|/ { print ""; print; print ""; next } { print }' "$top_srcdir/$doc") ;;
        units/man/*.[1-8]) text=$(MANWIDTH=1000 man -E UTF-8 -l "$top_srcdir/$doc" 2>/dev/null | sed 's/.\x08//g') ;;
        *) continue ;;
        esac
        bad_paras=$(awk -v RS= -v others="$others" -v booted=" $booted " '
                { unsupported = $0 ~ others
                  s = $0
                  while (match(s, /Debian [0-9]+/)) {
                          v = substr(s, RSTART + 7, RLENGTH - 7)
                          if (index(booted, " " v " ") == 0) unsupported = 1
                          s = substr(s, RSTART + RLENGTH) }
                  if (unsupported && $0 !~ /untested|not tested/) { gsub(/\n/, " "); print substr($0, 1, 90) } }' <<<"$text")
        [ -z "$bad_paras" ] || claims="$claims $doc: $(echo "$bad_paras" | tr '\n' ' ')"
done <<<"$userdocs"
if [ -n "$booted" ] && [ -z "$claims" ]; then ok "no host named that no tier boots, unless said untested (booted: Debian$booted)"
else bad "a host no tier boots, not said to be untested:$claims"; fi

# What happens to a queued request whose client hangs up (src/admit.c):
# both documents that say it leaves the queue unexecuted also say that a
# hang-up within the half-close grace (ADMIT_HALF_CLOSE_GRACE_MS) is taken
# for a half-close and executed. A paragraph per check, outside code.
grace_ms=$(sed -n 's/^#define ADMIT_HALF_CLOSE_GRACE_MS \([0-9]*\).*/\1/p' "$top_srcdir/src/admit.h")
if [ "$grace_ms" = 1000 ]; then grace_re='first second|within 1 s'; else grace_re="within $((grace_ms / 1000)) s"; fi
for doc in units/man/codejail-service.7 units/README.md; do
        case $doc in
        *.md) text=$(cat "$top_srcdir/$doc") ;;
        *) text=$(MANWIDTH=1000 man -E UTF-8 -l "$top_srcdir/$doc" 2>/dev/null | sed 's/.\x08//g') ;;
        esac
        paras=$(awk -v RS= '/client hangs up/ && /queue/' <<<"$text" | tr '\n' ' ')
        if [ -z "$paras" ]; then
                bad "$doc: no paragraph says what a queued request's hang-up does"
        elif awk -v RS= '/client hangs up/ && /queue/' <<<"$text" | awk -v RS= -v re="$grace_re" '$0 !~ re { bad = 1 } END { exit bad }'; then
                ok "$doc: a queued request's hang-up, and the ${grace_ms} ms it may be a half-close"
        else
                bad "$doc: says a queued request whose client hangs up is not executed, without the ${grace_ms} ms half-close grace"
        fi
done

echo "$pass passed, $fail failed"
[ $fail = 0 ]
