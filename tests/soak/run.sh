#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Soak: 2,000 mixed requests at 24 concurrent clients
# against a live socket-activated service (loopback only, see
# tests/abuse/with-service.sh); every answer checked; afterwards no process,
# jail dir, mount or namespace of any execution remains and the instances'
# peak RSS did not grow.
#   tests/soak/run.sh [N_REQUESTS [CONCURRENCY]]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
export CJ_REQUEST_TIMEOUT_S=10
exec timeout --kill-after=10 600 "$HERE/../abuse/with-service.sh" /usr/bin/python3 "$HERE/soak.py" "$@"
