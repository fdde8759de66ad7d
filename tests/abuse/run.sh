#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Abuse suite: hostile HTTP and hostile jailed code against
# a live socket-activated service, loopback only (see with-service.sh).
#   tests/abuse/run.sh [pytest args]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
exec "$HERE/with-service.sh" /usr/bin/python3 -m pytest -p no:cacheprovider "$HERE" "$@"
