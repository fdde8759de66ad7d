#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Start a codejaild service for the abuse and soak suites and run a command
# against it, all inside fresh network (loopback only), mount and PID
# namespaces with a private /tmp:
#   - nothing can reach any address but 127.0.0.1;
#   - /tmp/codejail-* and processes of sandbox UIDs seen here are this run's
#     only (other test runs on the host cannot confuse the leftover checks).
#
#   tests/abuse/with-service.sh CMD [ARGS...]
#
# Environment for CMD: CJ_BASE (http://127.0.0.1:PORT), CJ_PORT, CJ_LOG (the
# instances' stderr: one log line per request), CJ_SA_PID (the
# systemd-socket-activate process), CJ_CONFIG.
# CODEJAILD overrides the binary (default: build-E/src/codejaild, else
# build-main/src/codejaild). CJ_REQUEST_TIMEOUT_S (default 2) is the config's
# request_timeout_s: slowloris tests wait for it.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
if [ -z "${CODEJAILD:-}" ]; then
    CODEJAILD=$TOP/build-E/src/codejaild
    [ -x "$CODEJAILD" ] || CODEJAILD=$TOP/build-main/src/codejaild
fi
export CODEJAILD

if [ "${CJ_IN_NS:-}" != 1 ]; then
    exec unshare --net --mount --pid --fork --mount-proc -- env CJ_IN_NS=1 \
        bash -c 'ip link set lo up && exec "$1/tests/private-tmp.sh" "$1" "$(dirname "$CODEJAILD")" -- "$0" "${@:2}"' \
        "$0" "$TOP" "$@"
fi
if [ "$(awk -F: 'NR > 2 { gsub(/ /, "", $1); print $1 }' /proc/self/net/dev)" != lo ]; then
    echo "with-service: not in a loopback-only network namespace" >&2; exit 2
fi
[ -x "$CODEJAILD" ] || { echo "with-service: no binary $CODEJAILD (build first)" >&2; exit 2; }

T=$(mktemp -d /tmp/cj-abuse.XXXXXXXX)
mkdir -p "$T/state"
PORT=${CJ_PORT:-8080}
cat >"$T/config.json" <<JSON
{"enabled": true, "state_dir": "$T/state", "health_max_age_s": 86400,
 "request_timeout_s": ${CJ_REQUEST_TIMEOUT_S:-2},
 "limit_overrides": {
   "abuse-fast": {"CPU": 1, "REALTIME": 3, "OUTPUT": 262144},
   "abuse-tiny": {"CPU": 1, "REALTIME": 2, "VMEM": 268435456, "TMPFS": 4194304, "OUTPUT": 65536},
   "soak-mem": {"CPU": 3, "REALTIME": 10, "VMEM": 134217728},
   "soak-cpu": {"CPU": 1, "REALTIME": 10}
 }}
JSON
"$CODEJAILD" --config "$T/config.json" --selfcheck >"$T/selfcheck.out" 2>&1 ||
    { echo "with-service: selfcheck failed" >&2; cat "$T/selfcheck.out" >&2; exit 1; }

systemd-socket-activate -l "127.0.0.1:$PORT" -a "$CODEJAILD" --config "$T/config.json" 2>>"$T/service.log" &
SA=$!
trap 'kill $SA 2>/dev/null; wait $SA 2>/dev/null; true' EXIT
for _ in $(seq 100); do ss -Hltn "sport = :$PORT" | grep -q . && break; sleep 0.05; done
ss -Hltn "sport = :$PORT" | grep -q . || { echo "with-service: service did not start" >&2; exit 1; }

export CJ_BASE=http://127.0.0.1:$PORT CJ_PORT=$PORT CJ_LOG=$T/service.log CJ_SA_PID=$SA CJ_CONFIG=$T/config.json
set +e
"$@"
rc=$?
# SIGKILL: systemd-socket-activate's SIGTERM handling would also end this
# script with 143 and lose CMD's status; everything else in this PID
# namespace dies with us anyway
trap - EXIT
disown "$SA"  # no "Killed" job message
kill -KILL "$SA" 2>/dev/null
exit $rc
