#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Inside a private mount namespace (the caller's `unshare --mount`): mount an
# empty tmpfs on /tmp, bind back at its own path the whole checkout this
# script belongs to and each KEEP directory (a build tree) that lives under
# /tmp, then exec CMD. Suites use this so that /tmp/codejail-* they see are
# their own, whether the checkout and the build tree sit under /tmp or not.
# A kept path that does not read back afterwards stops the suite here, named,
# instead of failing deep inside it.
#
#   tests/private-tmp.sh [KEEP_DIR...] -- CMD [ARGS...]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd -P)
keep=("$top")
while [ $# -gt 0 ] && [ "$1" != -- ]; do
        keep+=("$(realpath -m "$1")")
        shift
done
[ "${1:-}" = -- ] || { echo "private-tmp.sh: usage: private-tmp.sh [DIR...] -- CMD" >&2; exit 2; }
shift
# A build tree the suite is about to make may not exist yet: made here, on
# the real /tmp, so that it outlives the private one.
for d in "${keep[@]}"; do
        mkdir -p "$d" || { echo "private-tmp.sh: $d: cannot make it; nothing hidden, suite not started" >&2; exit 2; }
done
saved=$(mktemp -d /run/cj-saved-tmp.XXXXXX)
mount --rbind /tmp "$saved"
mount -t tmpfs -o mode=1777,size=1g cj-private-tmp /tmp
for d in "${keep[@]}"; do
        case $d in
        /tmp/*)
                mkdir -p "$d"
                mount --rbind "$saved/${d#/tmp/}" "$d"
                ;;
        esac
done
umount -l "$saved"
rmdir "$saved"
for d in "${keep[@]}" "$top/tests/data"; do
        [ -d "$d" ] || { echo "private-tmp.sh: $d is gone under the private /tmp; suite not started" >&2; exit 2; }
done
exec "$@"
