# SPDX-License-Identifier: Apache-2.0
"""2,000 mixed requests at 16-32 concurrency; see run.sh.
usage: soak.py [N [CONCURRENCY]]   (inside tests/abuse/with-service.sh)"""
import collections
import concurrent.futures
import glob
import io
import json
import os
import random
import re
import statistics
import sys
import time
import urllib.parse
import zipfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "abuse"))
from conftest import jail_dirs, parse, raw, sandbox_processes  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
CONC = int(sys.argv[2]) if len(sys.argv) > 2 else 24
DEADLINE = time.monotonic() + 480  # the whole soak ends within 8 minutes
ZERO_DIV_TAIL = "ZeroDivisionError: division by zero\\n' with status code: 1"


def zip_lib():
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w") as z:
        z.writestr("soakmod.py", "def f(v):\n    return v * 3\n")
    return b.getvalue()


LIB = zip_lib()


def urlenc(payload):
    body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
    return (b"POST /api/v0/code-exec HTTP/1.1\r\nHost: soak\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body) + body)


def multipart(payload, files):
    parts = [b'--SoakB\r\nContent-Disposition: form-data; name="payload"\r\n\r\n' + json.dumps(payload).encode()]
    for name, data in files.items():
        parts.append(b'--SoakB\r\nContent-Disposition: form-data; name="%s"; filename="%s"\r\n'
                     b"Content-Type: application/zip\r\n\r\n" % (name.encode(), name.encode()) + data)
    body = b"\r\n".join(parts) + b"\r\n--SoakB--\r\n"
    return (b"POST /api/v0/code-exec HTTP/1.1\r\nHost: soak\r\nContent-Type: multipart/form-data; boundary=SoakB\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body) + body)


def p(code, g, ctx=None, **kw):
    d = {"code": code, "globals_dict": g}
    if ctx:
        d["limit_overrides_context"] = ctx
    d.update(kw)
    return d


# kind -> (weight, builder(rnd) -> (request bytes, checker(Response)))
def k_success(rnd):
    x = rnd.randrange(-10**6, 10**6)
    return urlenc(p("x = x + 1\ny = [x, 'é', None]", {"x": x, "keep": "k"})), \
        lambda r: r.status == 200 and r.json() == {"globals_dict": {"x": x + 1, "keep": "k", "y": [x + 1, "é", None]}}


def k_exception(rnd):
    return urlenc(p("1/0", {"x": 1})), \
        lambda r: r.status == 200 and r.json()["globals_dict"] == {"x": 1} and r.json()["emsg"].endswith(ZERO_DIV_TAIL)


def k_timeout(rnd):
    return urlenc(p("import time\ntime.sleep(30)", {"x": 1}, "abuse-tiny")), \
        lambda r: r.status == 200 and r.json()["emsg"].endswith("with status code: -9")


def k_cpu(rnd):
    # SIGXCPU at 1 s of CPU; under heavy oversubscription the 10 s wall
    # clock may come first (-9): both are the limit working
    return urlenc(p("while True: pass", {}, "soak-cpu")), \
        lambda r: r.status == 200 and re.search(r"with status code: -(24|9)$", r.json()["emsg"])


def k_memory(rnd):
    code = "xs = []\ntry:\n    while True: xs.append(bytearray(1 << 24))\nexcept MemoryError:\n    n = len(xs)\n    xs = None\n"
    return urlenc(p(code, {}, "soak-mem")), \
        lambda r: r.status == 200 and "emsg" not in r.json() and 2 <= r.json()["globals_dict"]["n"] < 9


def k_forkbomb(rnd):
    code = ("import os, time\nn = 0\nwhile True:\n    try:\n        if os.fork() == 0:\n            time.sleep(30)\n"
            "        n += 1\n    except OSError as e:\n        err = e.errno\n        break\n")
    return urlenc(p(code, {}, "abuse-fast")), \
        lambda r: r.status == 200 and r.json()["globals_dict"].get("err") == 11 and r.json()["globals_dict"]["n"] < 15


def k_upload(rnd):
    x = rnd.randrange(1000)
    return multipart(p("import soakmod\ny = soakmod.f(x)", {"x": x}, python_path=["python_lib.zip"]),
                     {"python_lib.zip": LIB}), \
        lambda r: r.status == 200 and r.json() == {"globals_dict": {"x": x, "y": 3 * x}}


def k_python_values(rnd):
    text = '{"code": "z = 1", "globals_dict": {"n": NaN, "i": -Infinity, "s": "\\ud800", "b": 123456789012345678901234567890}}'
    body = urllib.parse.urlencode({"payload": text}).encode()
    req = (b"POST /api/v0/code-exec HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
           b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def check(r):
        return (r.status == 200 and b'"n": NaN' in r.body and b'"i": -Infinity' in r.body and b'"\\ud800"' in r.body
                and b"123456789012345678901234567890" in r.body and b'"z": 1' in r.body)
    return req, check


def k_bad(rnd):
    return urlenc(p(5, {})), lambda r: r.status == 400 and r.json() == {
        "error": "Payload JSON did not match schema at path $.code: 5 is not of type 'string'"}


def k_health(rnd):
    return b"GET /health/ HTTP/1.1\r\n\r\n", lambda r: r.status == 200 and r.json()["status"] == "OK"


KINDS = {"success": (52, k_success), "exception": (12, k_exception), "timeout": (2, k_timeout), "cpu": (2, k_cpu),
         "memory": (5, k_memory), "forkbomb": (5, k_forkbomb), "upload": (10, k_upload),
         "python_values": (5, k_python_values), "bad": (4, k_bad), "health": (3, k_health)}


def one(i):
    rnd = random.Random(i)
    kind = rnd.choices(list(KINDS), weights=[w for w, _ in KINDS.values()])[0]
    req, check = KINDS[kind][1](rnd)
    if time.monotonic() > DEADLINE:
        return kind, "skipped (soak deadline)", 0
    t0 = time.monotonic()
    try:
        r = parse(raw(req, timeout=60)).well_formed()
        ok = check(r)
        return kind, None if ok else "wrong answer: %r" % (r,), time.monotonic() - t0
    except Exception as e:  # noqa: BLE001 -- any failure is a soak failure, reported
        return kind, "%s: %s" % (type(e).__name__, e), time.monotonic() - t0


def namespaces():
    ns = set()
    for f in glob.glob("/proc/[0-9]*/ns/*"):
        try:
            ns.add(os.readlink(f))
        except OSError:
            pass
    return ns


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1])
    return 0


def main():
    sa = int(os.environ["CJ_SA_PID"])
    mounts0 = open("/proc/self/mountinfo").read().count("\n")
    ns0 = namespaces()
    sa_rss0 = rss_kb(sa)
    t0 = time.monotonic()
    failures = []
    per_kind = collections.Counter()
    lat = collections.defaultdict(list)
    with concurrent.futures.ThreadPoolExecutor(CONC) as pool:
        for kind, err, dt in pool.map(one, range(N)):
            per_kind[kind] += 1
            lat[kind].append(dt)
            if err:
                failures.append((kind, err[:500]))
    wall = time.monotonic() - t0
    print("soak: %d requests at %d concurrent in %.1f s (%.1f req/s)" % (N, CONC, wall, N / wall))
    for k in KINDS:
        if lat[k]:
            print("  %-14s %4d  median %.3f s  max %.3f s" % (k, per_kind[k], statistics.median(lat[k]), max(lat[k])))

    # leftovers: processes, jail dirs, mounts, namespaces
    time.sleep(0.5)
    deadline = time.monotonic() + 5
    while (sandbox_processes() or jail_dirs()) and time.monotonic() < deadline:
        time.sleep(0.1)
    procs, dirs = sandbox_processes(), jail_dirs()
    mounts1 = open("/proc/self/mountinfo").read().count("\n")
    ns_left = namespaces() - ns0
    sa_rss1 = rss_kb(sa)

    # instance memory: CODEJAIL_SERVICE_MAXRSS_KB of every instance, in order
    log = open(os.environ["CJ_LOG"], errors="replace").read()
    rss = [int(m) for m in re.findall(r"CODEJAIL_SERVICE_MAXRSS_KB=(\d+)", log)]
    n_lines = len(re.findall(r"^codejail: ", log, re.M))
    problems = []
    if failures:
        problems.append("%d failed requests, first: %r" % (len(failures), failures[:5]))
    if procs:
        problems.append("sandbox processes remain: %r" % procs[:10])
    if dirs:
        problems.append("jail dirs remain: %r" % dirs[:10])
    if mounts1 != mounts0:
        problems.append("mount table changed: %d -> %d lines" % (mounts0, mounts1))
    if ns_left:
        problems.append("namespaces remain: %r" % sorted(ns_left)[:10])
    if n_lines != N:
        problems.append("%d log lines for %d requests" % (n_lines, N))
    if len(rss) >= 100:
        d = len(rss) // 10
        first, last = max(rss[:d]), max(rss[-d:])
        print("instance peak RSS (KB): min %d median %d max %d; first tenth max %d, last tenth max %d"
              % (min(rss), statistics.median(rss), max(rss), first, last))
        if last > first * 1.10 + 1024:
            problems.append("instance peak RSS grew: first tenth max %d KB, last tenth max %d KB" % (first, last))
    else:
        problems.append("only %d CODEJAIL_SERVICE_MAXRSS_KB fields in the log" % len(rss))
    print("systemd-socket-activate RSS %d -> %d KB; mounts %d -> %d; namespaces now %d (before %d)"
          % (sa_rss0, sa_rss1, mounts0, mounts1, len(namespaces()), len(ns0)))
    for pr in problems:
        print("FAIL " + pr)
    print("soak: %s" % ("FAILED" if problems else "passed"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
