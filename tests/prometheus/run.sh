#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The metrics against the real thing (tier "prometheus", ~30 s): Debian's
# prometheus scrapes codejaild's GET /metrics, configured from the shipped
# units/prometheus/prometheus-codejail.yml and evaluating the shipped
# units/prometheus/codejail-alerts.yml, all inside fresh network (loopback
# only), mount and PID namespaces with a private /tmp. tests/prometheus/drive.py
# sends a known mix of requests, kills instances mid-request, produces each
# alert's condition and checks everything through Prometheus's HTTP API.
#
#   tests/prometheus/run.sh            CODEJAILD overrides the binary
#                                      (default build/src/codejaild)
#
# Before the live part: promtool check rules and config on the shipped
# files, promtool test rules (tests/prometheus/alerts-test.yml: the real
# `for:` durations on synthetic series), promtool check metrics on a real
# exposition. The live rules are the shipped ones with `for:` set to 0s
# (an hour of `for:` is alerts-test.yml's to prove): the expressions fire
# on conditions produced by real requests.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
CODEJAILD=${CODEJAILD:-$TOP/build/src/codejaild}
export CODEJAILD
for tool in prometheus promtool systemd-socket-activate; do
        command -v "$tool" >/dev/null || { echo "prometheus tier: '$tool' missing (tests/deps.sh installs it)" >&2; exit 2; }
done
[ -x "$CODEJAILD" ] || { echo "prometheus tier: no binary $CODEJAILD (build first)" >&2; exit 2; }

if [ "${CJ_PROM_IN_NS:-}" != 1 ]; then
        exec unshare --net --mount --pid --fork --mount-proc -- env CJ_PROM_IN_NS=1 \
                bash -c 'ip link set lo up && exec "$1/tests/private-tmp.sh" "$(dirname "$CODEJAILD")" -- "$0" "${@:2}"' \
                "$0" "$TOP" "$@"
fi
if [ "$(awk -F: 'NR > 2 { gsub(/ /, "", $1); print $1 }' /proc/self/net/dev)" != lo ]; then
        echo "prometheus tier: not in a loopback-only network namespace" >&2
        exit 2
fi

t0=$(date +%s)
T=$(mktemp -d /tmp/cj-prometheus.XXXXXXXX)
PORT=18480 PROM=19090
fail() { echo "FAIL $*"; exit 1; }

# -- the shipped files, statically
( cd "$T" && promtool check rules "$TOP/units/prometheus/codejail-alerts.yml" ) >"$T/check-rules.out" 2>&1 ||
        { cat "$T/check-rules.out"; fail "promtool check rules units/prometheus/codejail-alerts.yml"; }
echo "ok   promtool check rules: $(grep -o '[0-9]* rules found' "$T/check-rules.out")"
( cd "$HERE" && promtool test rules alerts-test.yml ) >"$T/test-rules.out" 2>&1 ||
        { cat "$T/test-rules.out"; fail "promtool test rules tests/prometheus/alerts-test.yml"; }
echo "ok   promtool test rules: every alert quiet before its condition, firing after its for:"

# -- the service: JWT on (a 401 is part of the mix), one execution slot, a
# short queue, contexts whose limits kill
mkdir -p "$T/state"
jwt_keys=$(/usr/bin/python3 "$TOP/api_tests/lms_jwt.py" keygen "$T")
cat >"$T/config.json" <<JSON
{"enabled": true, "state_dir": "$T/state", "health_max_age_s": 86400,
 "max_concurrent_executions": 1, "queue_timeout_s": 3,
 "limit_overrides": {
   "kill-cpu": {"CPU": 1, "REALTIME": 10},
   "kill-realtime": {"REALTIME": 1},
   "kill-output": {"OUTPUT": 65536},
   "long": {"REALTIME": 20}
 }, $jwt_keys}
JSON
"$CODEJAILD" --config "$T/config.json" --selfcheck >"$T/selfcheck.out" 2>&1 ||
        { cat "$T/selfcheck.out"; fail "selfcheck"; }
systemd-socket-activate -l "127.0.0.1:$PORT" -a "$CODEJAILD" --config "$T/config.json" 2>>"$T/service.log" &
SA=$!
disown $SA  # drive.py kills it last: no job report
for _ in $(seq 100); do ss -Hltn "sport = :$PORT" | grep -q . && break; sleep 0.05; done

# A real exposition, checked by promtool (format and lint) before any
# Prometheus reads it.
curl -sf "http://127.0.0.1:$PORT/metrics" >"$T/metrics.txt" || fail "GET /metrics"
promtool check metrics <"$T/metrics.txt" >"$T/check-metrics.out" 2>&1 ||
        { cat "$T/check-metrics.out"; fail "promtool check metrics"; }
echo "ok   promtool check metrics: $(grep -c '^codejail_' "$T/metrics.txt") series, no problem"

# -- Prometheus, configured from the shipped example
/usr/bin/python3 - "$TOP" "$T" "$PORT" <<'PY'
import re, sys, yaml
top, t, port = sys.argv[1:]
cfg = yaml.safe_load(open(f"{top}/units/prometheus/prometheus-codejail.yml"))
job = cfg["scrape_configs"][0]
assert job["job_name"] == "codejail" and job["metrics_path"] == "/metrics"
job["static_configs"] = [{"targets": [f"127.0.0.1:{port}"]}]
job["scrape_interval"] = "1s"
job["scrape_timeout"] = "1s"
cfg["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
cfg["rule_files"] = [f"{t}/codejail-alerts.yml"]
yaml.safe_dump(cfg, open(f"{t}/prometheus.yml", "w"))
rules = open(f"{top}/units/prometheus/codejail-alerts.yml").read()
live, n = re.subn(r"(?m)^(\s+)for: \S+$", r"\1for: 0s", rules)
assert n >= 5, n
open(f"{t}/codejail-alerts.yml", "w").write(live)
PY
promtool check config "$T/prometheus.yml" >"$T/check-config.out" 2>&1 ||
        { cat "$T/check-config.out"; fail "promtool check config (the shipped example, targets replaced)"; }
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/tsdb" \
        --web.listen-address="127.0.0.1:$PROM" --log.level=warn >"$T/prometheus.log" 2>&1 &
PROM_PID=$!
trap 'kill $PROM_PID 2>/dev/null || true; kill -KILL $SA 2>/dev/null || true' EXIT
for _ in $(seq 200); do curl -sf "http://127.0.0.1:$PROM/-/ready" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$PROM/-/ready" >/dev/null || { cat "$T/prometheus.log"; fail "prometheus did not start"; }
echo "ok   prometheus $(prometheus --version 2>&1 | awk 'NR == 1 { print $3 }') scraping 127.0.0.1:$PORT/metrics every 1 s"

set +e
CJ_PROM=http://127.0.0.1:$PROM CJ_BASE=http://127.0.0.1:$PORT CJ_SA_PID=$SA CJ_STATE=$T/state \
        API_TEST_JWT_KEY=$T/lms-key.pem /usr/bin/python3 "$HERE/drive.py"
rc=$?
set -e
if [ $rc != 0 ]; then
        # Kept beside the binary (the private /tmp goes with this namespace).
        keep=$(dirname "$CODEJAILD")/prometheus-tier-logs
        rm -rf "$keep" && mkdir -p "$keep" && cp "$T"/*.log "$T"/*.json "$T"/*.yml "$keep"/ 2>/dev/null || true
        echo "-- prometheus log"; tail -n 20 "$T/prometheus.log"
        echo "-- the service's log entries but the scrapes' (all in $keep)"
        grep '^codejail: ' "$T/service.log" | grep -v ' /metrics -> ' | cut -c1-400
fi
echo "prometheus tier: $(($(date +%s) - t0)) s"
exit $rc
