#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Build the libFuzzer harnesses (clang, ASan+UBSan) out of tree.
#
#   tests/fuzz/build.sh [OUTDIR]     default OUTDIR: <top>/build-fuzz
#
# The service's pure modules are compiled once with coverage and
# sanitizers into an archive; each fuzz-*.c links against it (an archive, so
# a harness may #include a module to reach its static functions).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
OUT=${1:-$TOP/build-fuzz}
CC=${CC:-clang}
LLHTTP_SRC=${LLHTTP_SRC:-/usr/share/llhttp}
mkdir -p "$OUT/obj"

PKGS="jansson libseccomp nettle hogweed gmp libapparmor"
LLHTTP_CFLAGS= LLHTTP_LIBS= LLHTTP_SOURCES=
if pkg-config --exists libllhttp; then
    LLHTTP_CFLAGS=$(pkg-config --cflags libllhttp); LLHTTP_LIBS=$(pkg-config --libs libllhttp)
else
    for d in "$LLHTTP_SRC/../include/llhttp" /usr/share/include/llhttp /usr/include/llhttp; do
        [ -f "$d/llhttp.h" ] && { LLHTTP_CFLAGS="-I$d"; break; }
    done
    LLHTTP_SOURCES="api http llhttp"
fi
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
CFLAGS="-g -O1 -D_GNU_SOURCE -DDEFAULT_PYTHON_BIN=\"/usr/bin/python3\" -DPACKAGE_VERSION=\"fuzz\" -I$TOP/src $LLHTTP_CFLAGS $(pkg-config --cflags $PKGS) $SAN"
LIBS="$(pkg-config --libs $PKGS) $LLHTTP_LIBS"

# The seccomp BPF codejaild ships, generated as make does (src/seccomp-gen).
mkdir -p "$OUT/gen"
"$CC" -g -O1 -D_GNU_SOURCE -I"$TOP/src" $(pkg-config --cflags libseccomp) "$TOP/src/seccomp-gen.c" \
    "$TOP/src/seccomp-filter.c" $(pkg-config --libs libseccomp) -o "$OUT/gen/seccomp-gen"
"$OUT/gen/seccomp-gen" >"$OUT/gen/seccomp-bpf.h"
CFLAGS="$CFLAGS -I$OUT/gen"

# the modules of libcodejail.la and the JWT verifier the tests link, as
# Makefile.am lists them (CORE_SOURCES, AUTH_SOURCES)
MODULES=$(sed -n '/^\(CORE\|AUTH\)_SOURCES *=/,/^[^\t]/p' "$TOP/Makefile.am" | grep -o 'src/[a-z0-9-]*\.c' | sed 's|src/||; s|\.c$||' | sort -u)
[ -n "$MODULES" ] || { echo "build.sh: no CORE_SOURCES in Makefile.am" >&2; exit 1; }
objs=()
for m in $MODULES; do
    "$CC" $CFLAGS -fsanitize=fuzzer-no-link -c "$TOP/src/$m.c" -o "$OUT/obj/$m.o"
    objs+=("$OUT/obj/$m.o")
done
for m in $LLHTTP_SOURCES; do
    "$CC" -g -O1 $SAN -w $LLHTTP_CFLAGS -c "$LLHTTP_SRC/$m.c" -o "$OUT/obj/llhttp-$m.o"
    objs+=("$OUT/obj/llhttp-$m.o")
done
rm -f "$OUT/libcj-fuzz.a"
ar rcs "$OUT/libcj-fuzz.a" "${objs[@]}"

for src in "$HERE"/fuzz-*.c; do
    name=$(basename "$src" .c)
    "$CC" $CFLAGS -fsanitize=fuzzer "$src" "$OUT/libcj-fuzz.a" $LIBS -o "$OUT/$name"
done
echo "build-fuzz: $(find "$OUT" -maxdepth 1 -name "fuzz-*" -type f -executable | wc -l) harnesses in $OUT"
