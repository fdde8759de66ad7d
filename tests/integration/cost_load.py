# SPDX-License-Identifier: Apache-2.0
"""Every request's cost bounded, on a booted host (nspawn-test.sh step 11).

From one client address, for --seconds:
  * --heavy connections, each sending, again and again, a body whose
    payload field is at the form-data cap with globals of the worst shape
    (a few bytes per value: [{},{},...]); it is parsed whole and refused at
    check 8 ("unsafely": true), so it costs what parsing the worst shape
    costs, without taking an execution slot from anyone;
  * --noread clients that never read: each asks for an execution whose
    program writes 4 MB to stderr and fails (a ~20 MB answer), holds the
    connection open unread for request_timeout_s + 1 s, and starts again;
  * --lms clients as the LMS sends (urlencoded, a few globals), each
    request with the LMS's 3.5 s read timeout.
Meanwhile the resident memory of every codejaild and jailed process under
the container's PID 1 is sampled from /proc (the peak of their sum is
reported). Exits 1 unless every LMS request was answered correctly within
3.5 s and the peak stays under --max-mib.

  cost_load.py PORT LEADER_PID [--seconds 30] [--heavy 64] [--noread 16]
               [--lms 8] [--max-mib 1536]"""
import argparse
import json
import os
import socket
import sys
import threading
import time
import urllib.parse

HOST = "127.0.0.1"
FORM_CAP = 2621440
READ_TIMEOUT_S = 3.5


def request(body, ctype):
    return (b"POST /api/v0/code-exec HTTP/1.1\r\nHost: codejail\r\nContent-Type: " + ctype +
            b"\r\nContent-Length: %d\r\n\r\n" % len(body)) + body


def heavy_request():
    """Multipart, its payload field just under the cap: globals of ~3 bytes
    per value."""
    head = '{"code": "x = 1", "unsafely": true, "globals_dict": {"g": ['
    n = (FORM_CAP - len("payload") - 2 - len(head) - 8) // 3
    payload = (head + ",".join(["{}"] * n) + "]}}").encode()
    assert len(payload) + len("payload") + 2 <= FORM_CAP
    bnd = b"costloadboundary"
    body = (b"--" + bnd + b"\r\nContent-Disposition: form-data; name=\"payload\"\r\n\r\n" + payload +
            b"\r\n--" + bnd + b"--\r\n")
    return request(body, b"multipart/form-data; boundary=" + bnd)


def urlencoded(payload):
    return request(urllib.parse.urlencode({"payload": json.dumps(payload)}).encode(),
                   b"application/x-www-form-urlencoded")


def read_answer(s):
    data = b""
    while True:
        b = s.recv(1 << 16)
        if not b:
            return data
        data += b


def status_and_body(data):
    head, _, body = data.partition(b"\r\n\r\n")
    try:
        return int(head.split(b" ", 2)[1]), body
    except (IndexError, ValueError):
        return None, body


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.c = {}
        self.lms = []  # (latency s, ok, detail)

    def add(self, key, n=1):
        with self.lock:
            self.c[key] = self.c.get(key, 0) + n


def heavy(port, stop, st, req):
    while not stop.is_set():
        try:
            s = socket.create_connection((HOST, port), timeout=30)
            s.sendall(req)
            code, body = status_and_body(read_answer(s))
            s.close()
            st.add("heavy %s" % code)
        except OSError as e:
            st.add("heavy error %s" % type(e).__name__)
            time.sleep(0.1)


NOREAD_CODE = "import sys\nsys.stderr.buffer.write(b'\\xff' * 4000000)\nsys.exit(1)"


def noread(port, stop, st, hold_s):
    req = urlencoded({"code": NOREAD_CODE, "globals_dict": {}, "slug": "cost-noread"})
    while not stop.is_set():
        try:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.settimeout(30)
            s.connect((HOST, port))
            s.sendall(req)
            stop.wait(hold_s)
            s.close()
            st.add("noread held")
        except OSError as e:
            st.add("noread error %s" % type(e).__name__)
            time.sleep(0.1)


def lms(port, stop, st, i):
    k = 0
    while not stop.is_set():
        k += 1
        g = {"x": k, "seed": i, "answers": [1.5, "a", None], "name": "lms-%d" % i}
        req = urlencoded({"code": "x = x + 1", "globals_dict": g, "python_path": None,
                          "limit_overrides_context": None, "slug": "cost-lms-%d" % i, "unsafely": False})
        t0 = time.monotonic()
        detail = ""
        try:
            s = socket.create_connection((HOST, port), timeout=0.5)
            s.settimeout(READ_TIMEOUT_S)
            s.sendall(req)
            deadline = t0 + READ_TIMEOUT_S
            data = b""
            while True:
                s.settimeout(max(0.01, deadline - time.monotonic()))
                b = s.recv(1 << 16)
                if not b:
                    break
                data += b
            s.close()
            code, body = status_and_body(data)
            want = dict(g, x=k + 1)
            ok = code == 200 and json.loads(body) == {"globals_dict": want}
            if not ok:
                detail = "%s %r" % (code, body[:200])
        except (OSError, ValueError) as e:
            ok, detail = False, "%s after %.2f s" % (type(e).__name__, time.monotonic() - t0)
        took = time.monotonic() - t0
        with st.lock:
            st.lms.append((took, ok and took <= READ_TIMEOUT_S, detail))
        stop.wait(0.05)


def descendants(pid):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            kids = [int(k) for t in os.listdir("/proc/%d/task" % p)
                    for k in open("/proc/%d/task/%s/children" % (p, t)).read().split()]
        except OSError:
            continue
        out += kids
        todo += kids
    return out


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for ln in f:
                if ln.startswith("VmRSS:"):
                    return int(ln.split()[1])
    except OSError:
        pass
    return 0


def comm(pid):
    try:
        return open("/proc/%d/comm" % pid).read().strip()
    except OSError:
        return ""


def sampler(leader, stop, peak, slices):
    while not stop.is_set():
        pids = [p for p in descendants(leader) if comm(p) in ("codejaild",) or comm(p).startswith("python")]
        total = sum(rss_kib(p) for p in pids)
        if total > peak[0]:
            peak[:] = [total, len(pids)]
        for p in pids[:3]:
            try:
                lines = open("/proc/%d/cgroup" % p).read().splitlines()
            except OSError:
                continue
            # systemd's own hierarchy: name=systemd (v1, hybrid) or the unified one
            own = [ln for ln in lines if ":name=systemd:" in ln] or [ln for ln in lines if ln.startswith("0::")]
            for ln in own:
                slices.add(ln.split(":", 2)[2].split("/codejail@")[0])
        stop.wait(0.1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("port", type=int)
    ap.add_argument("leader", type=int)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--heavy", type=int, default=64)
    ap.add_argument("--noread", type=int, default=16)
    ap.add_argument("--lms", type=int, default=8)
    ap.add_argument("--hold", type=float, default=11, help="how long a non-reading client holds (s)")
    ap.add_argument("--max-mib", type=int, default=1536)
    a = ap.parse_args()
    st, stop = Stats(), threading.Event()
    peak, slices = [0, 0], set()
    req = heavy_request()
    threads = [threading.Thread(target=sampler, args=(a.leader, stop, peak, slices))]
    threads += [threading.Thread(target=heavy, args=(a.port, stop, st, req)) for _ in range(a.heavy)]
    threads += [threading.Thread(target=noread, args=(a.port, stop, st, a.hold)) for _ in range(a.noread)]
    threads += [threading.Thread(target=lms, args=(a.port, stop, st, i)) for i in range(a.lms)]
    for t in threads:
        t.daemon = True
        t.start()
    time.sleep(a.seconds)
    stop.set()
    for t in threads:
        t.join(timeout=a.hold + 20)
    lat = sorted(x[0] for x in st.lms)
    bad = [x for x in st.lms if not x[1]]
    q = lambda f: lat[min(len(lat) - 1, int(f * len(lat)))] if lat else float("nan")
    print("cost: %.0f s, %d heavy + %d non-reading + %d LMS-like clients from one address" % (
        a.seconds, a.heavy, a.noread, a.lms))
    print("cost: heavy/non-reading: %s" % ", ".join("%s %d" % kv for kv in sorted(st.c.items())))
    print("cost: LMS-like requests: %d, late or wrong: %d; latency p50 %.2f s, p99 %.2f s, max %.2f s" % (
        len(lat), len(bad), q(0.5), q(0.99), lat[-1] if lat else float("nan")))
    for x in bad[:5]:
        print("cost:   late or wrong: %.2f s %s" % (x[0], x[2]))
    print("cost: peak resident memory of the instances and jails: %d MiB (%d processes); slices seen: %s" % (
        peak[0] // 1024, peak[1], ", ".join(sorted(slices)) or "-"))
    ok = lat and not bad and peak[0] // 1024 <= a.max_mib
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
