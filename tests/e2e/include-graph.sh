#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# make check: the modules of src/ depend on each other without a cycle, so
# each can be read and tested with only what is below it.
#
# A module is a header and the sources that implement it: x.c and x.h, and
# a source without a header of its own belongs to the longest header name
# it starts with (authpolicy.c, authload.c, authplugin.c: auth.h). Two
# graphs, each must be acyclic:
#  - includes: x -> y when a file of x has #include "y.h" (y.h in src/);
#  - calls (when the build tree is there): x -> y when an object of x
#    uses a symbol an object of y defines (nm of the sabotage build's
#    objects, which compile every module of src/ but authload.c).
# A cycle fails with the modules on it; tsort(1) finds it.
set -uo pipefail
: "${top_srcdir:?}"
src=$top_srcdir/src
pass=0 fail=0
ok() { echo "ok   $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }

declare -A module
headers=$(cd "$src" && ls -- *.h | sed 's/\.h$//')
for f in "$src"/*.[ch]; do
        b=$(basename "$f"); b=${b%.[ch]}
        best=
        for h in $headers; do
                case $b in "$h"*) [ ${#h} -gt ${#best} ] && best=$h ;; esac
        done
        module[$b]=${best:-$b}
done

# tsort's verdict on "from to" lines: each loop it finds as "a b c; ",
# or nothing.
cycle() {
        tsort 2>&1 >/dev/null | awk '/input contains a loop/ { if (l) printf "%s; ", l; l = ""; next }
                { sub(/^tsort: /, ""); l = l (l ? " " : "") $0 } END { if (l) printf "%s", l }'
}

include_edges() {
        local f b h
        for f in "$src"/*.[ch]; do
                b=$(basename "$f"); b=${b%.[ch]}
                for h in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"/]*\)\.h".*/\1/p' "$f"); do
                        [ -f "$src/$h.h" ] || continue # generated (seccomp-bpf.h)
                        [ "${module[$b]}" != "$h" ] && echo "${module[$b]} $h"
                done
        done | sort -u
}
edges=$(include_edges)
n=$(echo "$edges" | grep -c .)
loop=$(echo "$edges" | cycle)
if [ "$n" -lt 20 ]; then bad "includes: only $n edges found (the extraction is broken)"
elif [ -z "$loop" ]; then ok "includes: no cycle among the modules of src/ ($n edges)"
else bad "includes: a cycle among: $loop"; fi

objs=()
[ -n "${top_builddir:-}" ] && objs=("$top_builddir"/src/codejaild_sabotage-*.o)
if [ -z "${top_builddir:-}" ]; then
        echo "SKIP calls: \$top_builddir unset (make check sets it)"
elif [ ! -f "${objs[0]}" ]; then
        bad "calls: no codejaild_sabotage-*.o in $top_builddir/src (the object names changed?)"
else
        call_edges() {
                local o b
                declare -A def
                for o in "${objs[@]}"; do
                        b=${o##*codejaild_sabotage-}; b=${b%.o}
                        while read -r s; do def[$s]=${module[$b]:-$b}; done < <(nm --defined-only "$o" | awk '$2 ~ /^[TDBR]$/ { print $3 }')
                done
                for o in "${objs[@]}"; do
                        b=${o##*codejaild_sabotage-}; b=${b%.o}
                        while read -r s; do
                                t=${def[$s]:-}
                                [ -n "$t" ] && [ "$t" != "${module[$b]:-$b}" ] && echo "${module[$b]:-$b} $t"
                        done < <(nm --undefined-only "$o" | awk '{ print $2 }')
                done | sort -u
        }
        edges=$(call_edges)
        n=$(echo "$edges" | grep -c .)
        loop=$(echo "$edges" | cycle)
        if [ "$n" -lt 20 ]; then bad "calls: only $n edges found in ${#objs[@]} objects (the extraction is broken)"
        elif [ -z "$loop" ]; then ok "calls: no cycle among the modules of src/ ($n edges, ${#objs[@]} objects)"
        else bad "calls: a cycle among: $loop"; fi
fi

echo "$pass passed, $fail failed"
[ $fail = 0 ]
