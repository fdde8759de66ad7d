# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Sourced by debian/tests/{service,api,purge} (bash, cwd: the source tree).
# Findings go to stdout and make the test exit 1; stderr stays for what
# nobody expected (autopkgtest fails a test that writes there).

PORT=${CODEJAIL_AUTOPKGTEST_PORT:-8080}
BASE=http://127.0.0.1:$PORT
CONF=/etc/codejail-service/codejail.json
TMP=${AUTOPKGTEST_TMP:-$(mktemp -d)}
FAILS=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
die() { echo "FAIL: $*"; exit 1; }
finish() { echo "$(basename "$0"): $FAILS failure(s)"; [ "$FAILS" = 0 ]; }

# Run a command whose chatter (systemctl's "Created symlink") goes to
# stderr: shown, on stdout, only when it fails.
quiet() {
        local out
        out=$("$@" 2>&1) || { echo "$out"; die "$*"; }
}

# HTTP status of GET/POST $1 (extra curl args after it); body in $TMP/body.
http() {
        local url=$1
        shift
        curl -s -o "$TMP/body" -w '%{http_code}' --max-time 60 "$@" "$url" || true
}

# The journal from here on: entries of SYSLOG_IDENTIFIER=codejail received
# after journal_mark, by time (with --after-cursor of a `-n 0 --show-cursor`
# cursor, the first run saw 3 of 4 entries, cause not pinned down: this is
# the simpler query). journal_since_mark waits, at most 10 s, for as
# many request entries as connections were accepted: an instance's entry
# reaches journald after its client has the answer.
journal_mark() {
        MARK_US=$(date +%s%6N)
}
journal_since_mark() {  # $1 = output file, $2 = request entries expected
        local n=0
        for _ in $(seq 1 50); do
                journalctl --sync 2>/dev/null || true
                journalctl -t codejail -o json --no-pager --since "@$((MARK_US / 1000000))" |
                        jq -c --argjson m "$MARK_US" 'select((.__REALTIME_TIMESTAMP | tonumber) >= $m)' >"$1"
                n=$(jq -s 'map(select(has("HTTP_STATUS"))) | length' "$1")
                [ "$n" -ge "$2" ] && break
                sleep 0.2
        done
        [ -n "${AUTOPKGTEST_ARTIFACTS:-}" ] && cp "$1" "$AUTOPKGTEST_ARTIFACTS/$(basename "$0")-$(basename "$1")"
        return 0
}
accepted() {  # sum of NAccepted over the named sockets
        local n=0 s
        for s in "$@"; do n=$((n + $(systemctl show "$s" -p NAccepted --value))); done
        echo "$n"
}

socket_port() {  # a listener on $PORT when that is not the shipped 8080
        [ "$PORT" = 8080 ] && return 0
        mkdir -p /etc/systemd/system/codejail.socket.d
        printf '[Socket]\nListenStream=\nListenStream=127.0.0.1:%s\n' "$PORT" \
                >/etc/systemd/system/codejail.socket.d/autopkgtest-port.conf
        systemctl daemon-reload
}

set_config() {  # $1 = jq filter applied to the config; the file keeps its 0600
        jq "$1" "$CONF" >"$TMP/codejail.json.new" || die "jq $1 $CONF"
        cat "$TMP/codejail.json.new" >"$CONF"
}

selfcheck_ok() {
        local st
        systemctl start codejail-selfcheck.service || true
        st=$(systemctl show codejail-selfcheck.service -p StatusText --value)
        case $st in
        "selfcheck OK"*) ok "selfcheck: $st" ;;
        *) bad "selfcheck StatusText: '$st'"
           journalctl -u codejail-selfcheck.service -n 30 --no-pager -o cat
           return 1 ;;
        esac
}

wait_health() {
        local code=
        for _ in $(seq 1 60); do
                code=$(http "$BASE/health/")
                [ "$code" = 200 ] && break
                sleep 0.5
        done
        if [ "$code" = 200 ] && jq -e '.status == "OK"' "$TMP/body" >/dev/null; then
                ok "GET /health/: 200 $(jq -c '{status}' "$TMP/body")"
        else
                bad "GET /health/: $code $(head -c 300 "$TMP/body" 2>/dev/null)"
                return 1
        fi
}

# The service enabled, listening, healthy (the README's steps), from
# whatever state an earlier test left.
service_up() {
        socket_port
        quiet systemctl enable --now codejail.socket
        set_config '.enabled = true'
        selfcheck_ok || die "the selfcheck does not pass"
        wait_health || die "the service is not healthy"
}
