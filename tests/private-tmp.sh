#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Inside a private mount namespace (the caller's `unshare --mount`): mount an
# empty tmpfs on /tmp, bind each KEEP directory that lives under /tmp back at
# its own path (a checkout or build tree under /tmp, as CI may have it), then
# exec CMD. Suites use this so that /tmp/codejail-* they see are their own.
#
#   tests/private-tmp.sh [KEEP_DIR...] -- CMD [ARGS...]
set -euo pipefail
keep=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
        keep+=("$(realpath -m "$1")")
        shift
done
[ "${1:-}" = -- ] || { echo "private-tmp.sh: usage: private-tmp.sh [DIR...] -- CMD" >&2; exit 2; }
shift
saved=$(mktemp -d /run/cj-saved-tmp.XXXXXX)
mount --rbind /tmp "$saved"
mount -t tmpfs -o mode=1777,size=1g cj-private-tmp /tmp
for d in "${keep[@]}"; do
        case $d in
        /tmp/*)
                mkdir -p "$saved/${d#/tmp/}" "$d"
                mount --rbind "$saved/${d#/tmp/}" "$d"
                ;;
        esac
done
umount -l "$saved"
rmdir "$saved"
exec "$@"
