#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Run the black-box suite against a local build, inside a loopback-only
# network namespace (so nothing a test tries can reach a real network even
# when confinement is switched off).
#
#   api_tests/run.sh exec  [pytest args]   EXEC transport (codejaild --exec)
#   api_tests/run.sh exec-venv [pytest args]  the same, python_bin in a sandbox
#                                   virtualenv holding a package of the suite's own
#   api_tests/run.sh http  [pytest args]   HTTP via systemd-socket-activate
#   api_tests/run.sh sabotage-exec [sabotage_check.py args]
#   api_tests/run.sh sabotage-http [sabotage_check.py args]
#
# CODEJAILD / CODEJAILD_SABOTAGE override the binaries (default: build-main).
# API_TEST_JWT=1 (http): every service requires the LMS's JWT,
# with a key set made for the run (lms_jwt.py); every client sends a
# token, and test_auth.py's refusals run.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
BIN=${CODEJAILD:-$TOP/build-main/src/codejaild}
SAB=${CODEJAILD_SABOTAGE:-$TOP/build-main/src/codejaild-sabotage}
PY=/usr/bin/python3   # Debian's python3-pytest / -requests live here
# The service runs with the units' UMask=0077: nothing the jail builds may
# depend on a friendlier umask (a root made under 0077 once hid /etc and
# /dev from the sandbox UID).
umask 0077

mode=${1:-}
[ -n "$mode" ] || { sed -n '3,13p' "$0"; exit 2; }
shift

if [ "${API_TEST_IN_NETNS:-}" != 1 ]; then
    # a fresh network namespace with only lo: no route, no resolver; and a
    # PID namespace of its own, so that whatever a sabotaged jail (no PID
    # namespace of its own) leaves running dies with this run; a UTS
    # namespace whose host and domain name the jail must not show
    # (test_deny_host_identity)
    exec unshare --net --pid --uts --fork --mount-proc -- env API_TEST_IN_NETNS=1 bash -c \
        'ip link set lo up && hostname cj-apitest-host && domainname cj-apitest.invalid && exec "$0" "$@"' \
        "$0" "$mode" "$@"
fi
if [ "$(awk -F: 'NR > 2 { gsub(/ /, "", $1); print $1 }' /proc/self/net/dev)" != lo ]; then
    echo "run.sh: not in a loopback-only network namespace" >&2; exit 2
fi
# API_TEST_DUMMY_IF=1: give this namespace a non-loopback interface so the
# service does not find itself private and unshares a network namespace of
# its own, which its jail then joins -- the production path without
# systemd's PrivateNetwork=. A veth pair with both ends in this namespace
# (frames only reach the peer), a documentation-range address, no default
# route.
if [ "${API_TEST_DUMMY_IF:-}" = 1 ]; then
    if ! { ip link add cjveth0 type veth peer name cjveth1 && ip addr add 198.51.100.1/24 dev cjveth0 &&
           ip link set cjveth0 up && ip link set cjveth1 up; }; then
        echo "run.sh: cannot create the veth pair for API_TEST_DUMMY_IF" >&2; exit 2
    fi
fi

T=$(mktemp -d /tmp/cj-apitest-run.XXXXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$T/state" "$T/state-never-checked"
# default limits; a long health age so one selfcheck covers the whole run
OVR='"limit_overrides": {"api-tests": {"CPU": 1, "REALTIME": 10}}'
echo "{\"enabled\": true,  \"state_dir\": \"$T/state\", \"health_max_age_s\": 86400, $OVR}" >"$T/enabled.json"
echo "{\"enabled\": false, \"state_dir\": \"$T/state\", \"health_max_age_s\": 86400}" >"$T/disabled.json"
echo "{\"enabled\": true,  \"state_dir\": \"$T/state-never-checked\"}" >"$T/unhealthy.json"

selfcheck() {  # $1 binary; never with CODEJAIL_SABOTAGE set
    if ! env -u CODEJAIL_SABOTAGE "$1" --config "$T/enabled.json" --selfcheck >"$T/selfcheck.out" 2>&1; then
        echo "run.sh: WARNING: selfcheck failed; code-exec will answer 'not correctly configured'" >&2
        cat "$T/selfcheck.out" "$T/state/health.json" >&2 2>/dev/null || true
    fi
}

start_service() {  # $1 port  $2 config  $3 binary: socket-activated, one instance per connection
    # API_TEST_FD_MODE=inetd: the connection on fd 0 (StandardInput=socket
    # style) instead of fd 3 with LISTEN_FDS=1.
    systemd-socket-activate -l "127.0.0.1:$1" -a ${API_TEST_FD_MODE:+--$API_TEST_FD_MODE} -E CJS_TEST_ENV_LEAKAGE=yes \
        ${CODEJAIL_SABOTAGE:+-E CODEJAIL_SABOTAGE=$CODEJAIL_SABOTAGE} \
        "$3" --config "$2" 2>>"$T/service-$1.log" &
    PIDS+=($!)
    for _ in $(seq 100); do
        ss -Hltn "sport = :$1" | grep -q . && return 0
        sleep 0.05
    done
    echo "run.sh: service on port $1 did not start" >&2; exit 1
}

export CJS_TEST_ENV_LEAKAGE=yes   # the service's environment must not leak into the sandbox
export API_TEST_SERVICE_FS=local  # the services share this filesystem: plant.py runs here
cd "$HERE"
case "$mode" in
exec-venv)
    # What an operator does for the PyPI-only course libraries (units/README.md):
    # a virtualenv over Debian's python3 with the system site packages, and
    # pip install into it -- here offline, a package of the suite's own.
    # Under /opt as units/README.md suggests (not /tmp: the service has a
    # private /tmp of its own).
    V=$(mktemp -d /opt/cj-apitest-venv.XXXXXXXX)
    trap 'cleanup; rm -rf "$V"' EXIT
    # Made with an operator's umask (022), not the service's (0077 above).
    (
        umask 0022
        "$PY" -m venv --without-pip --system-site-packages "$V/venv"
        cp -r "$HERE/venv-probe" "$T/venv-probe"   # setuptools builds in the source tree
        "$V/venv/bin/python3" -m pip install -q --no-index --no-build-isolation --no-cache-dir "$T/venv-probe" \
            >"$T/pip.log" 2>&1
    ) || { cat "$T/pip.log" >&2; exit 1; }
    for c in enabled disabled unhealthy; do
        sed -i "s|^{|{\"python_bin\": \"$V/venv/bin/python3\", |" "$T/$c.json"
    done
    export API_TEST_VENV_PACKAGE=cjvenvprobe API_TEST_VENV_PREFIX="$V/venv"
    selfcheck "$BIN"
    export API_TEST_EXEC="$BIN --config $T/enabled.json --exec"
    export API_TEST_DISABLED_EXEC="$BIN --config $T/disabled.json --exec"
    export API_TEST_UNHEALTHY_EXEC="$BIN --config $T/unhealthy.json --exec"
    "$PY" -m pytest -m "not http" "$@"
    ;;
exec)
    selfcheck "$BIN"
    export API_TEST_EXEC="$BIN --config $T/enabled.json --exec"
    export API_TEST_DISABLED_EXEC="$BIN --config $T/disabled.json --exec"
    export API_TEST_UNHEALTHY_EXEC="$BIN --config $T/unhealthy.json --exec"
    "$PY" -m pytest -m "not http" "$@"
    ;;
http)
    if [ "${API_TEST_JWT:-}" = 1 ]; then
        jwt_keys=$("$PY" "$HERE/lms_jwt.py" keygen "$T")
        for c in enabled disabled unhealthy; do
            sed -i "s|^{|{$jwt_keys, |" "$T/$c.json"
        done
        export API_TEST_JWT_KEY="$T/lms-key.pem"
    fi
    export API_TEST_SERVICE_LOG="$T/service-8080.log"
    selfcheck "$BIN"
    start_service 8080 "$T/enabled.json" "$BIN"
    start_service 8081 "$T/disabled.json" "$BIN"
    start_service 8082 "$T/unhealthy.json" "$BIN"
    export API_TEST_SERVICE_BASE=http://127.0.0.1:8080
    export API_TEST_DISABLED_BASE=http://127.0.0.1:8081
    export API_TEST_UNHEALTHY_BASE=http://127.0.0.1:8082
    set +e
    "$PY" -m pytest "$@"
    rc=$?
    set -e
    [ $rc = 0 ] || tail -n 50 "$T"/service-*.log >&2 || true
    exit $rc
    ;;
sabotage-exec)
    "$PY" "$HERE/sabotage_check.py" --transport exec --binary "$SAB" "$@"
    ;;
sabotage-http)
    "$PY" "$HERE/sabotage_check.py" --transport http --binary "$SAB" "$@"
    ;;
*)
    echo "run.sh: unknown mode $mode" >&2; exit 2
    ;;
esac
