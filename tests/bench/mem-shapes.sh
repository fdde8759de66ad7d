#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# What one request makes an instance hold, measured from outside it
# (tests/bench/memshapes.py says how), against a live socket-activated
# service in loopback-only namespaces (tests/abuse/with-service.sh).
#   tests/bench/mem-shapes.sh [--binary PATH] [memshapes.py args...]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
if [ "${1:-}" = --binary ]; then
        CODEJAILD=$(realpath "$2")
        export CODEJAILD
        shift 2
fi
CJ_REQUEST_TIMEOUT_S=60 exec "$HERE/../abuse/with-service.sh" /usr/bin/python3 "$HERE/memshapes.py" "$@"
