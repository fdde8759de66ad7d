#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The cost of one change per request, two builds side by side (first
# made to measure the instance split):
#   tests/bench/ab-cost.sh BINARY_A BINARY_B [N] [exec|health]
# Both under systemd-socket-activate in a loopback-only network namespace
# (with a veth pair, as run.sh: the production path), N requests each,
# interleaved one by one (order alternating), one per connection. Prints
# the median latency of each and the instances' CPU per request from the
# activator's RUSAGE_CHILDREN (every instance and its jail: the jailed
# Python's CPU is in both). Noisy machine: compare within one run.
set -euo pipefail
if [ "${AB_IN_NETNS:-}" != 1 ]; then
        exec unshare --net -- env AB_IN_NETNS=1 bash -c 'ip link set lo up &&
                ip link add cjveth0 type veth peer name cjveth1 && ip link set cjveth0 up &&
                ip link set cjveth1 up && exec "$0" "$@"' "$0" "$@"
fi
A=$1 B=$2 N=${3:-300} MODE=${4:-exec}
T=$(mktemp -d /tmp/cj-ab-cost.XXXXXX)
trap 'rm -rf "$T"' EXIT
pids=()
for s in a b; do
        bin=$A; [ $s = b ] && bin=$B
        mkdir -p "$T/$s"
        echo "{\"enabled\": true, \"state_dir\": \"$T/$s\", \"health_max_age_s\": 86400}" >"$T/$s.json"
        "$bin" --config "$T/$s.json" --selfcheck 2>/dev/null
        port=18301; [ $s = b ] && port=18302
        /usr/bin/time -f "%U %S" -o "$T/$s.time" \
                systemd-socket-activate -l "127.0.0.1:$port" -a "$bin" --config "$T/$s.json" 2>"$T/$s.log" &
        pids+=($!)
done
sleep 0.5
/usr/bin/python3 - "$N" "$MODE" <<'PY'
import json, socket, statistics, sys, time, urllib.parse
n, mode = int(sys.argv[1]), sys.argv[2]
if mode == "health":
    req, want = b"GET /health/ HTTP/1.1\r\nHost: x\r\n\r\n", b" 200 "
else:
    body = "payload=" + urllib.parse.quote(json.dumps({"code": "x = x + 1", "globals_dict": {"x": 16}}))
    req = ("POST /api/v0/code-exec HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
           "Content-Length: %d\r\n\r\n%s" % (len(body), body)).encode()
    want = b'"x": 17'
lat = {18301: [], 18302: []}
for i in range(n):
    for port in ((18301, 18302) if i % 2 == 0 else (18302, 18301)):
        t = time.perf_counter()
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(req)
        data = b""
        while True:
            k = s.recv(65536)
            if not k:
                break
            data += k
        s.close()
        lat[port].append((time.perf_counter() - t) * 1000)
        assert want in data, data[:300]
a, b = statistics.median(lat[18301]), statistics.median(lat[18302])
print("%s latency median: A %.2f ms, B %.2f ms, A-B %+.2f ms (%d pairs)" % (mode, a, b, a - b, n))
PY
for p in "${pids[@]}"; do pkill -TERM -P "$p" || true; done
wait "${pids[@]}" 2>/dev/null || true
read -r ua sa < <(tail -n1 "$T/a.time")
read -r ub sb < <(tail -n1 "$T/b.time")
/usr/bin/python3 -c 'import sys; ua, sa, ub, sb, n = map(float, sys.argv[1:])
a, b = (ua + sa) / n * 1000, (ub + sb) / n * 1000
print("CPU per request: A %.2f ms, B %.2f ms, A-B %+.2f ms" % (a, b, a - b))' "$ua" "$sa" "$ub" "$sb" "$N"
