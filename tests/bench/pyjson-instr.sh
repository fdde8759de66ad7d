#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Instructions pyjson_loads() and pyjson_scan() execute (callgrind: exact,
# not disturbed by a noisy machine) on a document of the parser's worst
# shapes (tests/bench/pyjson-instr.c), for src/pyjson.c of the working tree
# and of a revision:
#   tests/bench/pyjson-instr.sh REV [MiB]   (default 4 MiB; REV as old as
#   the pyjson_index API; needs cc, libjansson-dev, valgrind)
# Prints each function's inclusive count and the ratio.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
REV=${1:?usage: pyjson-instr.sh REV [MiB]}
MIB=${2:-4}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/rev"
git -C "$TOP" archive "$REV" src | tar -x -C "$work/rev"
build() { # out srcdir
        cc -O2 -g -D_GNU_SOURCE -I"$2" "$HERE/pyjson-instr.c" "$2/pyjson.c" "$2/siphash.c" \
                $(pkg-config --cflags --libs jansson) -lm -o "$1"
}
build "$work/tree" "$TOP/src"
build "$work/rev.bin" "$work/rev/src"
count() { # binary -> "loads scan"
        valgrind -q --tool=callgrind --callgrind-out-file="$work/cg" "$1" "$MIB" >/dev/null
        callgrind_annotate --inclusive=yes "$work/cg" 2>/dev/null |
                awk '/:pyjson_loads / { gsub(",", "", $1); l = $1 } /:pyjson_scan / { gsub(",", "", $1); s = $1 }
                     END { print l, s }'
}
read -r rl rs < <(count "$work/rev.bin")
read -r tl ts < <(count "$work/tree")
printf '%-14s %15s %15s %7s\n' function "$REV" "working tree" ratio
printf '%-14s %15s %15s %7.3f\n' pyjson_loads "$rl" "$tl" "$(echo "$tl / $rl" | bc -l)"
printf '%-14s %15s %15s %7.3f\n' pyjson_scan "$rs" "$ts" "$(echo "$ts / $rs" | bc -l)"
