# SPDX-License-Identifier: Apache-2.0
"""Admission control under systemd-socket-activate: a burst
waits instead of being refused; past queue_timeout_s it gets a 503 with
Retry-After; a client that leaves while queued leaves the queue without an
execution; kill -9 of a waiting or a running instance leaks no slot; the
selfcheck is never starved. Most tests run against a second activator with
2 slots and a 3 s queue (same binary, same state dir, its own log); the
256-client burst runs against the suite's service at the defaults.

CJ_QUEUE_SABOTAGE=1 (tests/abuse/queue-sabotage.sh): that second activator
runs the sabotage build with admission control switched off, and every test
named in queue-sabotage.sh must then fail."""
import json
import os
import re
import socket
import subprocess
import threading
import time
import urllib.parse

import pytest

from conftest import HOST, Response, read_all

SLOTS, QUEUE_TIMEOUT_S = 2, 3
# What a client whose sending side shut is asked (HTTP/1.1): one that
# closed answers it with a reset.
PROBE = b"HTTP/1.1 100 Continue\r\n\r\n"
BUSY = {"error": "Codejail service is busy: no execution slot became free within %d s" % QUEUE_TIMEOUT_S}


def request_bytes(code, globals_dict=None, slug="", context=None, version=b"1.1", **extra):
    payload = dict({"code": code, "globals_dict": globals_dict or {}, "slug": slug}, **extra)
    if context:
        payload["limit_overrides_context"] = context
    body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
    return (b"POST /api/v0/code-exec HTTP/" + version + b"\r\nHost: x\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)) + body


class Service:
    """systemd-socket-activate + codejaild with the queue settings given."""

    def __init__(self, port, extra, contexts=None, sabotage=None):
        base = os.environ["CJ_CONFIG"]
        cfg = json.load(open(base))
        cfg.update(extra)
        cfg["limit_overrides"]["queue-hold"] = {"CPU": 30, "REALTIME": 30}
        cfg["limit_overrides"].update(contexts or {})
        self.dir = os.path.dirname(base)
        self.config = os.path.join(self.dir, "queue-%d.json" % port)
        self.log = os.path.join(self.dir, "queue-%d.log" % port)
        json.dump(cfg, open(self.config, "w"))
        self.port = port
        if sabotage is None and os.environ.get("CJ_QUEUE_SABOTAGE") == "1":
            sabotage = "admission"
        sabotage = ["-E", "CODEJAIL_SABOTAGE=" + sabotage] if sabotage else []
        binary = os.environ["CODEJAILD_SABOTAGE"] if sabotage else os.environ["CODEJAILD"]
        self.proc = subprocess.Popen(
            ["systemd-socket-activate", "-l", "%s:%d" % (HOST, port), "-a"] + sabotage +
            [binary, "--config", self.config], stderr=open(self.log, "ab"))
        for _ in range(100):
            try:
                socket.create_connection((HOST, port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        time.sleep(0.3)  # that probe's instance logs http.no_request and leaves

    def stop(self):
        self.proc.kill()
        self.proc.wait()

    def send(self, code, slug, context=None, globals_dict=None, version=b"1.1"):
        s = socket.create_connection((HOST, self.port), timeout=60)
        s.sendall(request_bytes(code, globals_dict, slug, context, version=version))
        return s

    def entries(self, slug):
        """Log lines (stderr fallback: one per request) of requests with this slug."""
        with open(self.log, errors="replace") as f:
            return [ln for ln in f if " CODEJAIL_SLUG=%s " % slug in ln]

    def wait_entries(self, slug, n, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            e = self.entries(slug)
            if len(e) >= n:
                return e
            time.sleep(0.05)
        raise AssertionError("%d log entries for %s, wanted %d" % (len(self.entries(slug)), slug, n))

    def instances(self):
        """codejaild processes: (pid, runs an execution). Every instance has
        a child of its own (the side that parses the request, src/privsep.c)
        and, from its start, the jail's init in a PID namespace of its own,
        prepared while the request is read (jail.c, jail_prepare()); one
        that runs an execution has the program too, the init's child."""
        try:
            kids = open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)).read().split()
        except OSError:
            return []
        out = []
        for k in kids:
            try:
                grand = open("/proc/%s/task/%s/children" % (k, k)).read().split()
                own = os.readlink("/proc/%s/ns/pid" % k)
            except OSError:
                continue
            out.append((int(k), any(pid_ns(g) not in (None, own) and children(g) for g in grand)))
        return out


def children(pid):
    try:
        return open("/proc/%s/task/%s/children" % (pid, pid)).read().split()
    except OSError:
        return []


def pid_ns(pid):
    try:
        return os.readlink("/proc/%s/ns/pid" % pid)
    except OSError:
        return None


def field(line, name):
    m = re.search(r" %s=(\S*)" % name, line)
    return m.group(1) if m else None


def answer(s):
    try:
        return Response(read_all(s))
    finally:
        s.close()


@pytest.fixture(scope="module")
def queued():
    svc = Service(int(os.environ.get("CJ_PORT", "8080")) + 7,
                  {"max_concurrent_executions": SLOTS, "queue_timeout_s": QUEUE_TIMEOUT_S})
    yield svc
    svc.stop()


def drained(svc, timeout=40):
    """No execution of this service left (the leftover checks after each
    test look for jails)."""
    deadline = time.monotonic() + timeout
    while svc.instances():
        assert time.monotonic() < deadline, svc.instances()
        time.sleep(0.05)


def hold_slots(svc, tag, seconds):
    """Every slot taken by a sleeping execution; returns their sockets."""
    socks = [svc.send("import time\ntime.sleep(%g)" % seconds, "%s-hold%d" % (tag, i), context="queue-hold")
             for i in range(SLOTS)]
    deadline = time.monotonic() + 10
    while sum(j for _, j in svc.instances()) < SLOTS:
        assert time.monotonic() < deadline, "the holders never started"
        time.sleep(0.05)
    return socks


def test_queue_timeout_answers_503(queued):
    holders = hold_slots(queued, "t503", 6)
    t0 = time.monotonic()
    waiting = [queued.send("x = x + 1", "t503-wait", globals_dict={"x": 1}) for _ in range(3)]
    for s in waiting:
        r = answer(s)
        r.well_formed()
        assert r.status == 503, r
        assert r.json() == BUSY
        assert r.headers.get("retry-after") == str(QUEUE_TIMEOUT_S)
    took = time.monotonic() - t0
    assert QUEUE_TIMEOUT_S - 0.2 < took < QUEUE_TIMEOUT_S + 4, took
    entries = queued.wait_entries("t503-wait", 3)
    for e in entries:
        assert field(e, "CODEJAIL_STATUS") == "queue.timeout", e
        assert field(e, "HTTP_STATUS") == "503"
        assert int(field(e, "CODEJAIL_QUEUE_MS")) >= QUEUE_TIMEOUT_S * 1000 - 10
        assert field(e, "CODEJAIL_SANDBOX_UID") is None  # never executed
    # the holders themselves are answered normally
    for s in holders:
        assert answer(s).json() == {"globals_dict": {}}
    drained(queued)


def test_remote_addr_logged_after_the_client_closed(queued):
    # The log entry is written after the answer and the jail's teardown; a
    # client that read its answer and closed is gone from the socket by then.
    s = queued.send("x = 1", "addr-after-close")
    assert answer(s).json() == {"globals_dict": {"x": 1}}
    s.close()
    e = queued.wait_entries("addr-after-close", 1, timeout=10)[0]
    assert field(e, "REMOTE_ADDR") == HOST, e
    assert field(e, "REMOTE_PORT") not in (None, ""), e


def test_client_gone_leaves_the_queue_without_executing(queued):
    holders = hold_slots(queued, "gone", 4)
    code = "gone = %d" % time.time_ns()
    s = queued.send(code, "gone-client")
    time.sleep(1.5)  # past the half-close grace (admit.h): a hang-up, not a half-close
    s.close()  # the LMS gives up (read timeout) and closes
    e = queued.wait_entries("gone-client", 1, timeout=2)[0]
    assert field(e, "CODEJAIL_STATUS") == "queue.client_gone", e
    # read when the connection arrived: the peer is gone by now
    assert field(e, "REMOTE_ADDR") == HOST, e
    assert field(e, "HTTP_STATUS") == "0"
    assert 1400 < int(field(e, "CODEJAIL_QUEUE_MS")) < 3000
    assert field(e, "CODEJAIL_SANDBOX_UID") is None
    # The slots free up later; still no execution for it, ever.
    for h in holders:
        answer(h)
    drained(queued)
    assert len(queued.entries("gone-client")) == 1
    sha = field(e, "CODEJAIL_CODE_SHA256")
    with open(queued.log, errors="replace") as f:
        assert [ln for ln in f if sha in ln and "executed." in ln] == []


def test_half_closing_client_is_answered(queued):
    """A client that shuts its sending side right after the request (legal
    in HTTP/1.1) is still waiting for the answer, and gets it."""
    holders = hold_slots(queued, "halfclose", 1.5)
    s = queued.send("x = 41 + 1", "halfclose-client")
    s.shutdown(socket.SHUT_WR)
    r = answer(s)
    assert r.status == 200 and r.json() == {"globals_dict": {"x": 42}}, r
    assert r.raw.startswith(PROBE + b"HTTP/1.1 200 "), r  # asked once, then answered
    e = queued.wait_entries("halfclose-client", 1)[0]
    assert int(field(e, "CODEJAIL_QUEUE_MS")) > 500, e  # it did wait for a slot
    for h in holders:
        answer(h)
    drained(queued)


def running(svc, n=1, timeout=10):
    deadline = time.monotonic() + timeout
    while sum(j for _, j in svc.instances()) < n:
        assert time.monotonic() < deadline, "the execution never started"
        time.sleep(0.02)


def assert_stopped(svc, slug, gone_after_s):
    """The execution of a client that left was stopped at once: its own
    status, no answer, a duration that ends with the client, nothing left."""
    t0 = time.monotonic()
    e = svc.wait_entries(slug, 1, timeout=5)[0]
    assert field(e, "CODEJAIL_STATUS") == "stopped.client_gone", e
    assert field(e, "HTTP_STATUS") == "0", e
    assert field(e, "CODEJAIL_SANDBOX_UID") not in (None, ""), e  # it did run
    assert field(e, "CODEJAIL_EXIT_STATUS") == "-9", e
    # the program sleeps 20 s: stopped well within a second of the hang-up
    assert int(field(e, "CODEJAIL_DURATION_MS")) < (gone_after_s + 1.5) * 1000, e
    assert time.monotonic() - t0 < 3
    drained(svc, timeout=3)


def test_client_gone_stops_its_execution(queued):
    """A client that hangs up (FIN) past the half-close grace while its
    program runs: the jail is stopped, its slot freed."""
    s = queued.send("import time\ntime.sleep(20)", "stop-fin", context="queue-hold")
    running(queued)
    time.sleep(1.5)  # past the half-close grace (admit.h)
    s.close()
    assert_stopped(queued, "stop-fin", 1.5)


def test_client_reset_stops_its_execution(queued):
    """A reset is a hang-up whenever it comes, even within the grace."""
    s = queued.send("import time\ntime.sleep(20)", "stop-rst", context="queue-hold")
    running(queued)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()  # RST
    assert_stopped(queued, "stop-rst", 0.5)


def test_half_closing_client_is_answered_while_it_runs(queued):
    """A client that shuts its sending side right after the request while
    its program runs (no wait for a slot) still gets its answer."""
    drained(queued)
    s = queued.send("import time\ntime.sleep(2)\nx = 42", "halfclose-run", context="queue-hold")
    s.shutdown(socket.SHUT_WR)
    r = answer(s)
    assert r.status == 200 and r.json() == {"globals_dict": {"x": 42}}, r
    assert r.raw.startswith(PROBE + b"HTTP/1.1 200 "), r
    e = queued.wait_entries("halfclose-run", 1)[0]
    assert field(e, "CODEJAIL_STATUS") == "executed.success", e
    assert int(field(e, "CODEJAIL_DURATION_MS")) >= 2000, e
    drained(queued)


def reset(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()  # RST


def assert_never_executed(svc, e):
    sha = field(e, "CODEJAIL_CODE_SHA256")
    with open(svc.log, errors="replace") as f:
        assert [ln for ln in f if sha in ln and "executed." in ln] == []


def test_half_closing_client_that_resets_leaves_the_queue(queued):
    """A FIN taken for a half-close, then a reset while queued (second in
    line: asleep in the kernel's queue, woken by SIGIO): gone."""
    holders = hold_slots(queued, "hcrst", 4)
    ahead = queued.send("x = 1", "hcrst-ahead")
    time.sleep(0.3)
    s = queued.send("x = %d" % time.time_ns(), "hcrst-client")
    s.shutdown(socket.SHUT_WR)
    time.sleep(0.5)
    reset(s)
    e = queued.wait_entries("hcrst-client", 1, timeout=2)[0]
    assert field(e, "CODEJAIL_STATUS") == "queue.client_gone", e
    assert int(field(e, "CODEJAIL_QUEUE_MS")) < 1500, e
    for h in holders + [ahead]:
        answer(h)
    drained(queued)
    assert len(queued.entries("hcrst-client")) == 1
    assert_never_executed(queued, e)


def test_half_closing_client_that_resets_stops_its_execution(queued):
    """The same while its program runs: stopped."""
    drained(queued)
    s = queued.send("import time\ntime.sleep(20)", "hcrst-run", context="queue-hold")
    running(queued)
    s.shutdown(socket.SHUT_WR)
    time.sleep(0.3)
    reset(s)
    assert_stopped(queued, "hcrst-run", 0.5)


def test_client_that_closes_at_once_leaves_the_queue(queued):
    """A client that closes right after its request (its FIN within the
    half-close grace) while every slot is held: the probe's reset tells it
    from a half-close -- never executed for nobody."""
    holders = hold_slots(queued, "closenow", 4)
    s = queued.send("x = %d" % time.time_ns(), "closenow-client")
    s.close()
    e = queued.wait_entries("closenow-client", 1, timeout=2)[0]
    assert field(e, "CODEJAIL_STATUS") == "queue.client_gone", e
    assert field(e, "HTTP_STATUS") == "0", e
    for h in holders:
        answer(h)
    drained(queued)
    assert len(queued.entries("closenow-client")) == 1
    assert_never_executed(queued, e)


def test_client_that_closes_at_once_is_not_executed_for_nobody(queued):
    """The same with a free slot: gone before its program runs (the probe
    goes out when admission control sees the FIN) or stopped at once."""
    drained(queued)
    s = queued.send("import time\ntime.sleep(20)", "closenow-run", context="queue-hold")
    s.close()
    e = queued.wait_entries("closenow-run", 1, timeout=3)[0]
    assert field(e, "CODEJAIL_STATUS") in ("queue.client_gone", "stopped.client_gone"), e
    assert field(e, "HTTP_STATUS") == "0", e
    drained(queued, timeout=3)


def test_client_that_closes_early_in_its_execution_is_stopped(queued):
    """A close (FIN) within the half-close grace while its program runs."""
    drained(queued)
    s = queued.send("import time\ntime.sleep(20)", "closeearly-run", context="queue-hold")
    running(queued)
    s.close()
    assert_stopped(queued, "closeearly-run", 0.5)


def test_half_closing_http10_client_gets_no_interim_response(queued):
    """HTTP/1.0 knows no 1xx: its half-close is only timed, and it gets its
    answer alone."""
    holders = hold_slots(queued, "hc10", 1.5)
    s = queued.send("x = 41 + 1", "hc10-client", version=b"1.0")
    s.shutdown(socket.SHUT_WR)
    r = answer(s)
    assert r.raw.startswith(b"HTTP/1.1 200 "), r
    assert r.json() == {"globals_dict": {"x": 42}}, r
    e = queued.wait_entries("hc10-client", 1)[0]
    assert int(field(e, "CODEJAIL_QUEUE_MS")) > 500, e
    for h in holders:
        answer(h)
    drained(queued)


def test_waiters_are_served_in_arrival_order(queued):
    t_hold = time.time()
    holders = hold_slots(queued, "fifo", 1.5)
    waiting = []
    for i in range(6):
        waiting.append(queued.send("import time\nt = time.time()", "fifo-%d" % i))
        time.sleep(0.15)
    started = [answer(s).json()["globals_dict"]["t"] for s in waiting]
    for h in holders:
        answer(h)
    drained(queued)
    # they did wait for the holders (so this is about the queue's order)
    assert min(started) > t_hold + 1.4, (t_hold, started)
    order = sorted(range(6), key=lambda i: started[i])
    # two slots: neighbours may start in either order, nobody overtakes more
    for pos, i in enumerate(order):
        assert abs(pos - i) <= 1, (order, started)


def test_kill_9_of_waiting_and_running_instances_leaks_no_slot(queued):
    holders = hold_slots(queued, "kill", 30)
    w = queued.send("x = 1", "kill-wait")
    deadline = time.monotonic() + 10
    while len(queued.instances()) < SLOTS + 1:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.3)  # parked in the queue
    inst = queued.instances()
    waiting = [p for p, jail in inst if not jail]
    running = [p for p, jail in inst if jail]
    assert len(waiting) == 1 and len(running) == SLOTS, inst
    os.kill(waiting[0], 9)
    for p in running:
        os.kill(p, 9)
    for s in holders + [w]:
        s.close()
    deadline = time.monotonic() + 10
    while queued.instances():
        assert time.monotonic() < deadline, queued.instances()
        time.sleep(0.05)
    # The full concurrency is there at once: SLOTS executions of 1 s start
    # side by side, none of them waits for a slot.
    socks = [queued.send("import time\ntime.sleep(1)", "kill-after-%d" % i) for i in range(SLOTS)]
    for s in socks:
        assert answer(s).status == 200
    for i in range(SLOTS):
        e = queued.wait_entries("kill-after-%d" % i, 1)[0]
        assert int(field(e, "CODEJAIL_QUEUE_MS")) < 500, e
    drained(queued)


def test_selfcheck_is_never_starved(queued):
    holders = hold_slots(queued, "selfcheck", 8)
    waiting = [queued.send("x = 1", "selfcheck-wait") for _ in range(4)]
    t0 = time.monotonic()
    r = subprocess.run([os.environ["CODEJAILD"], "--config", queued.config, "--selfcheck"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]
    took = time.monotonic() - t0
    # it ran while every slot was taken and four requests were waiting
    assert sum(j for _, j in queued.instances()) == SLOTS
    assert took < 10, took
    for s in waiting:
        s.close()
    for h in holders:
        answer(h)
    drained(queued)


def test_rejections_and_health_never_queue(queued):
    holders = hold_slots(queued, "reject", 3)
    for raw, status in ((b"GET /health/ HTTP/1.1\r\nHost: x\r\n\r\n", 200),
                        (request_bytes("x = 1", slug="reject-unsafe", unsafely=True), 400),
                        (b"POST /api/v0/code-exec HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 400)):
        t0 = time.monotonic()
        c = socket.create_connection((HOST, queued.port), timeout=10)
        c.sendall(raw)
        r = answer(c)
        assert r.status == status, r
        assert time.monotonic() - t0 < 2.5  # the holders sleep 3 s
    with open(queued.log, errors="replace") as f:
        rejected = [ln for ln in f if "CODEJAIL_STATUS=invalid.unsafely " in ln]
    assert rejected and field(rejected[-1], "CODEJAIL_QUEUE_MS") is None, rejected
    for h in holders:
        answer(h)
    drained(queued)


@pytest.fixture(scope="module")
def one_slot():
    """One slot and the shipped request_timeout_s (10 s): the time a client
    that does not read could keep an answer -- and, before, its slot."""
    svc = Service(int(os.environ.get("CJ_PORT", "8080")) + 8,
                  {"max_concurrent_executions": 1, "queue_timeout_s": 30, "request_timeout_s": 10})
    yield svc
    svc.stop()


# A request of a few hundred bytes; its program writes 4 MB that are not
# text to stderr and fails: the emsg quotes them, ~20 MB of answer.
STDERR_FLOOD = "import sys\nsys.stderr.buffer.write(b'\\xff' * 4000000)\nsys.exit(1)"


def answer_begun(s):
    """The answer's first bytes are here: its program has exited."""
    try:
        return s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
    except BlockingIOError:
        return False


def test_client_that_does_not_read_holds_no_slot(one_slot):
    hog = socket.socket()
    hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    hog.connect((HOST, one_slot.port))
    hog.sendall(request_bytes(STDERR_FLOOD, slug="noread-hog"))
    deadline = time.monotonic() + 20
    while not answer_begun(hog):
        assert time.monotonic() < deadline, "the answer never began"
        time.sleep(0.02)
    inst = one_slot.instances()[0][0]
    # Its program has exited; the client reads nothing. The next request,
    # for the only slot, is answered within the LMS's read timeout.
    t0 = time.monotonic()
    r = answer(one_slot.send("x = x + 1", "noread-next", globals_dict={"x": 16}))
    took = time.monotonic() - t0
    print("the next request answered %.2f s after the non-reading client's answer began" % took)
    assert r.status == 200 and r.json() == {"globals_dict": {"x": 17}}, r
    assert took < 3.5, "answered after %.1f s" % took
    e = one_slot.wait_entries("noread-next", 1)[0]
    assert int(field(e, "CODEJAIL_QUEUE_MS")) < 1000, e
    # The hog's instance is still writing (until request_timeout_s), and
    # holds nothing of the jail: no execution of it remains.
    assert inst in [p for p, _ in one_slot.instances()]
    assert not any(j for p, j in one_slot.instances() if p == inst)
    hog.close()
    e = one_slot.wait_entries("noread-hog", 1, timeout=15)[0]
    assert field(e, "CODEJAIL_STATUS") == "executed.error", e
    drained(one_slot)


def test_large_answer_is_whole_for_a_client_that_reads(one_slot):
    """The same ~20 MB answer, written as it is produced (never held whole),
    to a client that reads: its Content-Length, its JSON, its emsg."""
    r = answer(one_slot.send(STDERR_FLOOD, "noread-reader"))
    r.well_formed()
    emsg = r.json()["emsg"]
    assert emsg.startswith("Couldn't execute jailed code: stdout: b'', stderr: b'\\xff\\xff"), emsg[:80]
    assert emsg.endswith("' with status code: 1"), emsg[-40:]
    assert len(emsg) == len("Couldn't execute jailed code: stdout: b'', stderr: b''") + 4 * 4000000 + len(
        " with status code: 1")
    assert len(r.body) < 2 * 5 * 4194304 + 4096  # at most 5 bytes of answer per captured byte
    drained(one_slot)


def test_burst_of_256_clients_from_one_address_all_answered():
    """The suite's service, default settings: 256 simultaneous clients get
    256 correct answers -- none refused, reset or turned away."""
    port = int(os.environ.get("CJ_PORT", "8080"))
    results = [None] * 256
    go = threading.Event()

    def client(i):
        go.wait()
        try:
            s = socket.create_connection((HOST, port), timeout=60)
            s.sendall(request_bytes("x = x + 1", {"x": i}, "burst256"))
            results[i] = answer(s)
        except OSError as e:
            results[i] = e

    ts = [threading.Thread(target=client, args=(i,)) for i in range(256)]
    for t in ts:
        t.start()
    go.set()
    for t in ts:
        t.join()
    bad = [(i, r) for i, r in enumerate(results)
           if not isinstance(r, Response) or r.status != 200 or r.json() != {"globals_dict": {"x": i + 1}}]
    assert not bad, bad[:5]
