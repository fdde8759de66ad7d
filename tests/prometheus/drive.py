#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The live part of the prometheus tier (tests/prometheus/run.sh).

A service with JWT on, one execution slot and a 3 s queue is scraped every
second by a real Prometheus evaluating the shipped alerting rules (for: 0s).
This sends a known mix -- successes, errors, a 400, 401s, a kill by each
limit that kills, a queue timeout, a client that leaves the queue, one that
leaves while its program runs, one while its answer is written, /health/, a 404 -- kills two instances with
SIGKILL (one running, one waiting), makes the selfcheck fail and come back,
and checks through Prometheus's HTTP API:

* increase() of every counter over the run equals what was sent (exactly:
  evaluated at the last scrape's timestamp, every series starting at 0);
* the killed instances are in no counter, and instances_started_total minus
  the requests counted is exactly them plus the scrape that reads it;
* the scrape never failed (min_over_time(up) is 1), and the running and
  waiting gauges came back to 0 after the kills;
* each shipped alert fires when its condition is produced (and the one
  for no requests fires before any and stops after).
Environment: CJ_PROM, CJ_BASE, CJ_SA_PID, CJ_STATE, API_TEST_JWT_KEY.
"""
import json
import os
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "api_tests"))
import lms_jwt  # noqa: E402

PROM = os.environ["CJ_PROM"]
BASE = os.environ["CJ_BASE"]
PORT = urllib.parse.urlsplit(BASE).port
SA_PID = int(os.environ["CJ_SA_PID"])
STATE = os.environ["CJ_STATE"]
TOKEN = lms_jwt.mint()
failures = 0
passes = 0


T0 = time.time()


def ok(what):
    global passes
    passes += 1
    print(f"ok   {what}", flush=True)


def bad(what):
    global failures
    failures += 1
    print(f"FAIL {what} [{time.time() - T0:.2f} s into the run]", flush=True)


def note(what):
    print(f"     {what} [{time.time() - T0:.2f} s]", flush=True)


def check(cond, what):
    (ok if cond else bad)(what)
    return cond


# ---- the service ----

def request_bytes(code=None, payload=None, context=None, auth="ok", method="POST", path="/api/v0/code-exec"):
    if method != "POST":
        return f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    if payload is None:
        payload = json.dumps({"code": code, "globals_dict": {"x": 16}, "limit_overrides_context": context})
    body = "payload=" + urllib.parse.quote(payload)
    head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n")
    if auth == "ok":
        head += f"Authorization: JWT {TOKEN}\r\n"
    elif auth == "bad":
        head += f"Authorization: JWT {TOKEN[:-4]}AAAA\r\n"
    return (head + "\r\n" + body).encode()


def send(raw, timeout=30):
    """One request per connection; returns (status, body)."""
    s = socket.create_connection(("127.0.0.1", PORT), timeout=timeout)
    s.sendall(raw)
    data = b""
    while True:
        k = s.recv(65536)
        if not k:
            break
        data += k
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split()[1]) if head.startswith(b"HTTP/1.1 ") else 0
    return status, body.decode(errors="replace")


def connect_and_send(raw):
    s = socket.create_connection(("127.0.0.1", PORT), timeout=30)
    s.sendall(raw)
    return s


def reset(s):
    """Close with a RST: the peer is gone at once, not half-closed."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def expect(raw, status, contains, what):
    got, body = send(raw)
    if not check(got == status and contains in body, f"{what}: {status}"):
        print(f"     got {got} {body[:300]}")


# ---- instances, by their connection ----

def children_of():
    kids = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            kids.setdefault(ppid, []).append(int(p))
    return kids


def instance_of(client):
    """The instance (a child of the activator) serving the connection
    whose client end is `client`, with all its descendants."""
    lport = client.getsockname()[1]
    inode = None
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            p = line.split()
            if int(p[1].split(":")[1], 16) == PORT and int(p[2].split(":")[1], 16) == lport:
                inode = p[9]
    if not inode:
        return []
    kids = children_of()
    for top in kids.get(SA_PID, []):
        tree, todo = [], [top]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo += kids.get(pid, [])
        for pid in tree:
            try:
                fds = os.listdir(f"/proc/{pid}/fd")
            except OSError:
                continue
            for fd in fds:
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                        return tree
                except OSError:
                    pass
    return []


def kill_instances(tops):
    """kill -9 of whole instances, as a crash would: stopped first, every
    descendant included (one forked meanwhile too), then killed. Killed one
    by one instead, a survivor -- the parsing child in the moment between
    its parent's fds closing and PR_SET_PDEATHSIG, a parent whose jail just
    died -- could still answer, and be counted."""
    stopped = set()
    while True:
        kids = children_of()
        tree, todo = [], list(tops)
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo += kids.get(pid, [])
        new = [pid for pid in tree if pid not in stopped]
        if not new:
            break
        for pid in new:
            try:
                os.kill(pid, signal.SIGSTOP)
            except ProcessLookupError:
                pass
            stopped.add(pid)
    for pid in stopped:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return sorted(stopped)


# ---- Prometheus ----

def prom(path, **params):
    url = f"{PROM}{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=10) as r:
        doc = json.load(r)
    assert doc["status"] == "success", doc
    return doc["data"]


def query(expr, at=None):
    params = {"query": expr}
    if at is not None:
        params["time"] = f"{at:.3f}"
    return prom("/api/v1/query", **params)["result"]


def scalar(expr, at=None):
    r = query(expr, at)
    return float(r[0]["value"][1]) if r else None


def scraped_since(expr, t):
    """expr holds in a scrape that began after t (not an older sample)."""
    return bool(query(f'({expr}) and on() (timestamp(up{{job="codejail"}}) > {t:.3f})'))


def wait_for(fn, what, timeout=20):
    t = time.time() + timeout
    last = None
    while time.time() < t:
        last = fn()
        if last:
            ok(what)
            return True
        time.sleep(0.25)
    bad(f"{what} (last: {last})")
    return False


def alert_states():
    return {a["labels"]["alertname"]: a["state"] for a in prom("/api/v1/alerts")["alerts"]}


def firing(name):
    return alert_states().get(name) == "firing"


def scrapes():
    return scalar('count_over_time(up{job="codejail"}[1h])') or 0


def settle():
    """Two more scrapes: what was sent is in Prometheus."""
    n = scrapes()
    t = time.time() + 10
    while scrapes() < n + 2 and time.time() < t:
        time.sleep(0.2)


# ---- the run ----

def main():
    t_start = time.time()
    wait_for(lambda: scrapes() >= 3, "Prometheus scrapes /metrics (job codejail, up)")
    wait_for(lambda: firing("CodejailNoRequests"), "alert CodejailNoRequests fires before any code-exec request")
    states = alert_states()
    check("CodejailDown" not in states and "CodejailSelfcheckFailing" not in states,
          f"no other alert while healthy and scraped ({sorted(states)})")
    pyver = ".".join(map(str, sys.version_info[:3]))
    info = query("codejail_build_info")
    check(len(info) == 1 and info[0]["metric"].get("python") == pyver,
          f"codejail_build_info python={pyver} (the selfcheck's interpreter)")
    layers = {r["metric"]["layer"]: r["value"][1] for r in query("codejail_layer_enforced")}
    check(layers.get("seccomp") == "1" and layers.get("namespaces") == "1" and set(layers) ==
          {"landlock", "seccomp", "namespaces", "apparmor"}, f"codejail_layer_enforced {layers}")

    # The plain mix.
    for i in range(6):
        expect(request_bytes("x = x + 1"), 200, '"x": 17', f"success {i + 1}")
    for i in range(3):
        expect(request_bytes("raise ValueError('no')"), 200, "ValueError", f"error {i + 1}")
    for i in range(2):
        expect(request_bytes(payload="{not json"), 400, "Unable to parse payload JSON", f"bad JSON {i + 1}")
    for i in range(2):
        expect(request_bytes("x = 1", auth=None), 401, "credentials were not provided", f"no token {i + 1}")
    expect(request_bytes("x = 1", auth="bad"), 401, "Invalid JWT", "bad token")
    expect(request_bytes("while True: pass", context="kill-cpu"), 200, "status code: -", "killed by CPU")
    expect(request_bytes("import time\ntime.sleep(5)", context="kill-realtime"), 200, "status code: -9",
           "killed by REALTIME")
    expect(request_bytes("import sys\nsys.stderr.write('x' * 200000)", context="kill-output"), 200,
           "status code: -9", "killed by OUTPUT")
    for i in range(3):
        expect(request_bytes(method="GET", path="/health/"), 200, '"status": "OK"', f"health {i + 1}")
    expect(request_bytes(method="GET", path="/nope"), 404, "Not found", "unknown path")

    # The queue: one execution holds the only slot; one waiter times out,
    # one resets its connection while it waits.
    res = {}
    sent = time.time()
    a = threading.Thread(target=lambda: res.update(a=send(request_bytes("import time\ntime.sleep(6)", context="long"))))
    a.start()
    note("the long execution sent")
    wait_for(lambda: scraped_since("codejail_executions_running == 1", sent),
             "codejail_executions_running 1 while it runs")
    b = threading.Thread(target=lambda: res.update(b=send(request_bytes("x = x + 1"))))
    b.start()
    c = connect_and_send(request_bytes("x = x + 1"))
    note(f"two more requests sent (the second from port {c.getsockname()[1]})")
    time.sleep(2)  # both wait at least two scrapes long
    reset(c)
    note("the second reset")
    b.join()
    a.join()
    check(res["b"][0] == 503 and "busy" in res["b"][1], f"queue timeout: 503 ({res['b'][0]})")
    check(scalar("max_over_time(codejail_executions_waiting[30s])") == 2,
          "codejail_executions_waiting was 2 (both in the queue)")
    check(res["a"][0] == 200 and '"x": 16' in res["a"][1], f"the long execution: 200 ({res['a'][0]})")

    # A client that leaves while its program runs (a reset): the execution
    # is stopped (stopped.client_gone).
    s = connect_and_send(request_bytes("import time\ntime.sleep(1)", context="long"))
    time.sleep(0.3)
    reset(s)
    time.sleep(1.5)
    idle = "(codejail_executions_running == 0) and on() (codejail_executions_waiting == 0)"
    t = time.time()
    wait_for(lambda: scraped_since(idle, t), "no execution running or waiting")

    # A client that leaves while its answer is written (a reset once the
    # first bytes of a ~3 MB answer are in): the answer cannot be written.
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", PORT))
    s.sendall(request_bytes('x = "\\u0001" * 500000'))
    deadline = time.time() + 20
    while True:
        try:
            if s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT):
                break
        except BlockingIOError:
            pass
        if time.time() > deadline:
            check(False, "the large answer began")
            break
        time.sleep(0.02)
    reset(s)
    t = time.time()
    wait_for(lambda: scraped_since('codejail_clients_gone_total{stage="answer"} >= 1', t),
             "the answer lost counted")

    # kill -9 of two instances mid-request: one running, one waiting.
    sent = time.time()
    k1 = connect_and_send(request_bytes("import time\ntime.sleep(6)", context="long"))
    wait_for(lambda: scraped_since("codejail_executions_running == 1", sent), "the execution to be killed is running")
    sent = time.time()
    k2 = connect_and_send(request_bytes("x = x + 1"))
    wait_for(lambda: scraped_since("codejail_executions_waiting == 1", sent), "the request to be killed is waiting")
    victims = kill_instances(instance_of(k1)[:1] + instance_of(k2)[:1])
    killed = time.time()
    check(len(victims) >= 4, f"the two instances' processes found ({len(victims)})")
    for k in (k1, k2):
        k.settimeout(10)
        try:
            gone = k.recv(1) == b""
        except OSError:
            gone = True
        check(gone, "the killed instance's client sees its connection end without an answer")
        k.close()
    wait_for(lambda: scraped_since(idle, killed),
             "running and waiting back to 0 after kill -9 (the kernel released their locks)")

    # The selfcheck fails: health.json says FAILED; code-exec answers 500.
    path = os.path.join(STATE, "health.json")
    good = open(path).read()
    failed = json.loads(good)
    failed["status"] = "FAILED"
    with open(path + ".tmp", "w") as f:
        json.dump(failed, f)
    os.rename(path + ".tmp", path)
    wait_for(lambda: firing("CodejailSelfcheckFailing"), "alert CodejailSelfcheckFailing fires (health.json FAILED)")
    for i in range(3):
        expect(request_bytes("x = x + 1"), 500, "not correctly configured", f"code-exec while unhealthy {i + 1}")
    wait_for(lambda: firing("CodejailErrorRate"), "alert CodejailErrorRate fires (500s among code-exec)")
    with open(path + ".tmp", "w") as f:
        f.write(good)
    os.rename(path + ".tmp", path)
    wait_for(lambda: "CodejailSelfcheckFailing" not in alert_states(), "alert CodejailSelfcheckFailing resolves")

    # Everything in: the counters' increase over the run, at the last
    # scrape's own timestamp (no extrapolation).
    settle()
    at = scalar('timestamp(up{job="codejail"})')
    sent = {
        ("200", "executed.success"): 8, ("200", "executed.error"): 6, ("400", "invalid.payload.bad_json"): 2,
        ("401", "auth.missing"): 2, ("401", "auth.invalid"): 1, ("503", "queue.timeout"): 1,
        ("none", "queue.client_gone"): 1, ("none", "stopped.client_gone"): 1, ("200", "health.ok"): 3,
        ("404", "http.not_found"): 1,
        ("500", "disabled.safety_checks_failed"): 3,
    }
    got = {(r["metric"]["code"], r["metric"]["status"]): float(r["value"][1])
           for r in query("increase(codejail_requests_total[1h])", at)}
    for key in sorted(set(sent) | set(got)):
        if key == ("200", "metrics.ok"):
            continue
        check(got.get(key) == sent.get(key, 0),
              f"increase(codejail_requests_total{{code=\"{key[0]}\",status=\"{key[1]}\"}}) = {got.get(key)}"
              f", sent {sent.get(key, 0)}")
    n_scrapes = scalar('count_over_time(up{job="codejail"}[1h])', at)
    # Its first sample is 1 (the tier's own curl), so Prometheus
    # extrapolates this one towards zero: about one scrape more.
    m = got.get(("200", "metrics.ok"), 0)
    check(n_scrapes - 1 <= m <= n_scrapes + 1, f"every scrape counted as metrics.ok ({m:.1f}, {n_scrapes:.0f} scrapes)")
    exact = {
        'codejail_limit_kills_total{limit="CPU"}': 1, 'codejail_limit_kills_total{limit="REALTIME"}': 1,
        'codejail_limit_kills_total{limit="OUTPUT"}': 1,
        'codejail_clients_gone_total{stage="queue"}': 1, 'codejail_clients_gone_total{stage="execution"}': 1,
        'codejail_clients_gone_total{stage="answer"}': 1,
        "codejail_execution_duration_seconds_count": 15,
        "codejail_queue_wait_seconds_count": 17,
        'codejail_request_duration_seconds_count{route="code-exec"}': 25,
        'codejail_request_duration_seconds_count{route="health"}': 3,
        'codejail_request_duration_seconds_count{route="other"}': 1,
    }
    for series, n in exact.items():
        v = scalar(f"increase({series}[1h])", at)
        check(v == n, f"increase({series}) = {v}, sent {n}")
    v = scalar("increase(codejail_execution_duration_seconds_bucket{le=\"+Inf\"}[1h])", at)
    check(v == 15, f"histogram +Inf bucket = _count ({v})")
    # The two killed instances are in no counter: started minus counted is
    # them plus the scrape that was rendering.
    lost = scalar("codejail_instances_started_total - scalar(sum(codejail_requests_total))", at)
    check(lost == 3, f"instances started - requests counted = {lost}: the 2 killed + the scrape itself")
    span = int(time.time() - t_start) + 2
    check(scalar(f'min_over_time(up{{job="codejail"}}[{span}s])') == 1,
          f"every scrape of the run succeeded, kill -9 included ({int(scrapes())} scrapes)")
    check(scalar(f"max_over_time(codejail_executions_running[{span}s])") == 1, "running never above the one slot")

    for name in ("CodejailQueueTimeouts", "CodejailLimitKillsRising"):
        wait_for(lambda: firing(name), f"alert {name} fires")
    wait_for(lambda: "CodejailNoRequests" not in alert_states(), "alert CodejailNoRequests resolved by the traffic")

    # The service gone: the scrape fails.
    os.kill(SA_PID, signal.SIGKILL)
    wait_for(lambda: firing("CodejailDown"), "alert CodejailDown fires when the socket is gone")

    print(f"{passes} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
