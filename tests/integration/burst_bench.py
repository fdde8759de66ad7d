#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Burst benchmark and burst checks, host side.

Closed-loop clients from one source address (127.0.0.1) against one or more
targets (a socket-activated codejail listener each), level by level:

  bench  For each level (concurrent clients) and each target: the same
         deterministic sequence of requests (a mix: `x = x + 1`, a numpy
         case, a 1 s CPU-bound case, a case that sleeps past REALTIME), one
         request per connection, every answer checked byte for byte against
         what the service must say. Per level: refused and reset
         connections, 5xx (503 among them), wrong answers, latency p50/p99
         (all requests and `x = x + 1` alone), throughput (correct answers
         per second), the share answered correctly within 3.5 s (the LMS's
         read timeout), the peak memory of all instances and their jails
         (the target's cgroup, sampled), the listener's own CPU (systemd's
         PID 1, or systemd-socket-activate) and whether the listener is
         still up and answers afterwards.
  burst  2,000 connections within about a second (each a code-exec request)
         while a slow client holds many connections open, then: the
         listener is still active and the next request is answered.
  load   N clients x M quick requests (x = x + 1 and numpy): every answer
         correct, none refused, reset or 5xx.
  memory What one waiting instance costs: every execution slot held by
         sleeping executions, then K more requests that can only wait; the
         memory they add, divided by K (then they hang up and leave).
  rush   Capacity (patient clients), then LMS-like students (the LMS's
         timeouts, resubmitting) at each level: goodput, the quick
         request's p50/p99, and from the target's log what became of the
         executions (finished for a client gone, stopped, left the queue).

Input: a JSON spec (burst-bench.sh, nspawn-test.sh):
  {"targets": [{"name", "label", "port",
                "cgroup": "/sys/fs/cgroup/... dir of all instances (or null)",
                "cpu_pid": PID whose utime+stime is the listener's CPU,
                "state_cmd": [argv printing the listener state] (optional),
                "restart_cmd": [argv] (optional),
                "instances_cmd": [argv printing the number of live instances] (optional),
                "instances_pid": PID whose children are the instances (instead),
                "log": the activator's log file (rush), or
                "journal_cmd": [argv of journalctl in the container] (rush)}]}
Memory is reported above the cgroup's level right before each run (idle).
"""

import argparse
import errno
import json
import os
import random
import re
import resource
import selectors
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

# the booted benchmark's percentile, so both tables interpolate alike
from nspawn_bench import pct

LMS_READ_TIMEOUT_S = 3.5
CONNECT_TIMEOUT_S = 60
READ_TIMEOUT_S = 180

# The mix (percent of requests). Mostly small problems, as in a course; a
# numpy import; a CPU-bound case that needs a full second of CPU (so it
# finishes within REALTIME = 5 s only if it gets at least ~20% of a core);
# and one that sleeps past REALTIME, holding an execution slot for 5 s
# without using CPU.
MIX = (("x", 80), ("numpy", 10), ("cpu1s", 7), ("sleep", 3))
QUICK_MIX = (("x", 90), ("numpy", 10))

KILLED = "Couldn't execute jailed code: stdout: b'', stderr: b'' with status code: -9"
CASES = {
    "x": ({"code": "x = x + 1", "globals_dict": {"x": 16}},
          {"globals_dict": {"x": 17}}),
    "numpy": ({"code": "import numpy as np\ny = int(np.arange(x).sum())", "globals_dict": {"x": 1000}},
              {"globals_dict": {"x": 1000, "y": 499500}}),
    "cpu1s": ({"code": "import time\nt = time.process_time()\nn = 0\n"
                       "while time.process_time() - t < 1.0:\n    n += 1\nok = n > 0\ndel t, n",
               "globals_dict": {}},
              {"globals_dict": {"ok": True}}),
    "sleep": ({"code": "import time\ntime.sleep(30)", "globals_dict": {"s": 1}},
              {"globals_dict": {"s": 1}, "emsg": KILLED}),
}


def raw_request(payload, slug):
    body = urllib.parse.urlencode({"payload": json.dumps(dict(payload, slug=slug))}).encode()
    return (b"POST /api/v0/code-exec HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)) + body


RAW = {k: raw_request(p, "burst-bench-" + k) for k, (p, _) in CASES.items()}


def classify(kind, data):
    """(outcome, status): ok | killed | wrong | 5xx | 4xx | reset. killed: a
    well-formed answer saying the execution was killed (REALTIME: the host
    was too busy for it to finish in time) where it should have finished."""
    if not data:
        return "reset", 0
    head, _, body = data.partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/1\.[01] (\d+) ", head)
    if not m:
        return "wrong", 0
    status = int(m.group(1))
    if status >= 500:
        return "5xx", status
    if status != 200:
        return "4xx", status
    try:
        got = json.loads(body)
    except ValueError:
        return "wrong", status
    if got == CASES[kind][1]:
        return "ok", status
    if kind != "sleep" and isinstance(got, dict) and str(got.get("emsg", "")).endswith("with status code: -9") \
            and got.get("globals_dict") == CASES[kind][0]["globals_dict"]:
        return "killed", status
    return "wrong", status


def one(port, kind):
    """One request on a fresh connection: (outcome, status, seconds)."""
    t0 = time.perf_counter()
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=CONNECT_TIMEOUT_S)
    except ConnectionRefusedError:
        return "refused", 0, time.perf_counter() - t0
    except OSError:
        return "refused", 0, time.perf_counter() - t0
    chunks = []
    try:
        s.settimeout(READ_TIMEOUT_S)
        s.sendall(RAW[kind])
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    except socket.timeout:
        return "timeout", 0, time.perf_counter() - t0
    except OSError:
        # systemd past MaxConnections: accepted, then closed (RST with our
        # request unread). An answer already received still counts.
        if not chunks:
            return "reset", 0, time.perf_counter() - t0
    finally:
        s.close()
    out, status = classify(kind, b"".join(chunks))
    return out, status, time.perf_counter() - t0


def sequence(n, mix, seed=12):
    seq = []
    total = sum(p for _, p in mix)
    for kind, p in mix:
        seq += [kind] * round(n * p / total)
    seq = (seq + [mix[0][0]] * n)[:n]
    random.Random(seed).shuffle(seq)
    return seq


def run_closed_loop(port, clients, seq):
    """clients threads, each taking the next request of seq as soon as its
    previous one is done. Returns [(kind, outcome, status, seconds)], wall."""
    results = [None] * len(seq)
    nxt = [0]
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= len(seq):
                return
            out, status, dt = one(port, seq[i])
            results[i] = (seq[i], out, status, dt)

    t0 = time.perf_counter()
    ts = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return results, time.perf_counter() - t0


# ---- what the host sees of a target ------------------------------------------

def read_int(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def cgroup_memory(cg):
    """Bytes charged to the cgroup now (v2 memory.current, v1 usage)."""
    if not cg:
        return None
    for name in ("memory.current", "memory.usage_in_bytes"):
        v = read_int(os.path.join(cg, name))
        if v is not None:
            return v
    return None


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except (OSError, ValueError):
        return float("nan")


def proc_cpu_s(pid):
    """utime + stime of one process, seconds."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


class Sampler(threading.Thread):
    """Peak memory of a cgroup above its level at the start, sampled every
    50 ms."""

    def __init__(self, cg):
        super().__init__(daemon=True)
        self.cg, self.stop = cg, threading.Event()
        self.idle = cgroup_memory(cg) or 0
        self.top = self.idle

    @property
    def peak(self):
        return self.top - self.idle

    def run(self):
        while not self.stop.is_set():
            v = cgroup_memory(self.cg)
            if v is not None and v > self.top:
                self.top = v
            self.stop.wait(0.05)


def cmd_out(argv, timeout=60):
    if not argv:
        return ""
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def instances(t):
    """Live instances of the target (None: unknown)."""
    if t.get("instances_pid"):
        pid = t["instances_pid"]
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                return len(f.read().split())
        except OSError:
            return None
    if t.get("instances_cmd"):
        try:
            return int(cmd_out(t["instances_cmd"]))
        except ValueError:
            return None
    return None


def drain(t, timeout=120):
    """Until no instance of the target is left (teardown of the previous
    run). False: some were still there at the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = instances(t)
        if n is None:
            time.sleep(2)
            return True
        if n == 0:
            time.sleep(0.5)  # the last teardowns' memory
            return True
        time.sleep(0.5)
    return False


def listener_after(t):
    """The listener's state after a level, restarting it when it failed;
    then whether the next request is answered."""
    state = cmd_out(t.get("state_cmd")) or "running"
    failed = state not in ("active", "running", "")
    if failed and t.get("restart_cmd"):
        cmd_out(t["restart_cmd"])
    out, _, _ = one(t["port"], "x") if not failed else ("not tried", 0, 0)
    return state, out == "ok"


# ---- modes ---------------------------------------------------------------------

def bench(spec, args):
    levels = [int(x) for x in args.levels.split(",")]
    mix = QUICK_MIX if args.quick_mix else MIX
    seq = sequence(args.requests, mix)
    rows = []
    targets = spec["targets"]
    print(f"mix: {', '.join(f'{p}% {k}' for k, p in mix)}; {args.requests} requests per level and target; "
          f"one source address; one request per connection", flush=True)
    for li, level in enumerate(levels):
        # Alternate the order per level, so drift spreads over both.
        for t in (targets if li % 2 == 0 else targets[::-1]):
            drain(t)
            load0 = loadavg()
            cpu0 = proc_cpu_s(t["cpu_pid"])
            smp = Sampler(t.get("cgroup"))
            smp.start()
            res, wall = run_closed_loop(t["port"], level, seq)
            smp.stop.set()
            smp.join()
            cpu1 = proc_cpu_s(t["cpu_pid"])
            state, next_ok = listener_after(t)
            row = summarize(t, level, res, wall, smp.peak, cpu1 - cpu0, state, next_ok)
            # The machine's 1-min load around the run: the benchmark's own
            # load is about the executions running; much more means a
            # neighbour was busy too.
            row["load"] = [load0, loadavg()]
            rows.append(row)
            print(f"  {t['name']:>10} @{level:<3}: {row['ok']}/{len(res)} ok, refused {row['refused']}, "
                  f"reset {row['reset']}, 5xx {row['5xx']} (503: {row['503']}), wrong {row['wrong']}, "
                  f"timeouts {row['timeout']}, p50 {row['p50']:.0f} ms, p99 {row['p99']:.0f} ms, max {row['max']:.0f} ms, "
                  f"{row['rps']:.1f} req/s, <=3.5 s {row['within']:.0%}, peak {row['peak_mib']:.0f} MiB, "
                  f"listener CPU {row['listener_cpu_s']:.1f} s, after: {state}{'' if next_ok else ', next request NOT answered'}"
                  f" (load {row['load'][0]:.1f} -> {row['load'][1]:.1f})",
                  flush=True)
    print_table(rows, targets)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "mix": mix, "requests": args.requests,
                       "labels": {t["name"]: t.get("label", t["name"]) for t in targets}}, f, indent=1)
    return rows


def summarize(t, level, res, wall, peak, cpu, state, next_ok):
    by = {}
    for kind, out, status, dt in res:
        by.setdefault(out, []).append(dt)
    ok_lat = [dt for kind, out, status, dt in res if out == "ok"]
    x_lat = [dt for kind, out, status, dt in res if out == "ok" and kind == "x"]
    all_lat = [dt for kind, out, status, dt in res]
    wrong_kinds = {}
    for kind, out, status, dt in res:
        if out in ("wrong", "killed"):
            wrong_kinds[kind] = wrong_kinds.get(kind, 0) + 1
    return {
        "target": t["name"], "level": level, "n": len(res),
        "ok": len(by.get("ok", [])), "refused": len(by.get("refused", [])), "reset": len(by.get("reset", [])),
        "timeout": len(by.get("timeout", [])), "4xx": len(by.get("4xx", [])),
        "5xx": len(by.get("5xx", [])), "503": sum(1 for r in res if r[2] == 503),
        "wrong": len(by.get("wrong", [])) + len(by.get("killed", [])), "killed": len(by.get("killed", [])),
        "wrong_kinds": wrong_kinds,
        "p50": pct(all_lat, 50) * 1e3, "p99": pct(all_lat, 99) * 1e3,
        "max": max(all_lat, default=float("nan")) * 1e3,
        "x_p50": pct(x_lat, 50) * 1e3, "x_p99": pct(x_lat, 99) * 1e3,
        "rps": len(ok_lat) / wall if wall else 0.0, "wall_s": wall,
        "within": sum(1 for d in ok_lat if d <= LMS_READ_TIMEOUT_S) / len(res),
        "peak_mib": peak / 2**20, "listener_cpu_s": cpu, "after": state, "next_ok": next_ok,
    }


def print_table(rows, targets):
    labels = {t["name"]: t.get("label", t["name"]) for t in targets}
    print()
    for t in targets:
        print(f"- {t['name']}: {labels[t['name']]}")
    print()
    print("| clients | variant | correct | refused | reset | 5xx (503) | wrong | p50 ms | p99 ms | max ms | "
          "x=x+1 p50 / p99 ms | req/s | answered <= 3.5 s | peak MiB | listener CPU s | listener after |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in sorted(rows, key=lambda r: (r["level"], [t["name"] for t in targets].index(r["target"]))):
        after = r["after"] + ("" if r["next_ok"] else ", next request unanswered")
        wrong = f"{r['wrong']}" + (f" ({', '.join(f'{k} {v}' for k, v in r['wrong_kinds'].items())}"
                                   f"{'; all killed by REALTIME' if r.get('killed') == r['wrong'] else ''})"
                                   if r["wrong"] else "")
        print(f"| {r['level']} | {r['target']} | {r['ok']}/{r['n']} | {r['refused']} | {r['reset'] + r['timeout']} | "
              f"{r['5xx']} ({r['503']}) | {wrong} | {r['p50']:.0f} | {r['p99']:.0f} | {r['max']:.0f} | "
              f"{r['x_p50']:.0f} / {r['x_p99']:.0f} | {r['rps']:.1f} | {r['within']:.0%} | "
              f"{r['peak_mib']:.0f} | {r['listener_cpu_s']:.1f} | {after} |")
    print("req/s: correct answers per second of the run's wall time (a run whose requests are refused "
          "ends early); answered <= 3.5 s: share of all requests answered correctly within the LMS's "
          "read timeout; peak MiB: all instances and jails, above idle")
    print()


def load(spec, args):
    """CI: N clients, M quick requests; everything must be right."""
    t = spec["targets"][0]
    seq = sequence(args.requests, QUICK_MIX)
    smp = Sampler(t.get("cgroup"))
    smp.start()
    cpu0 = proc_cpu_s(t["cpu_pid"])
    res, wall = run_closed_loop(t["port"], args.clients, seq)
    smp.stop.set()
    smp.join()
    state, next_ok = listener_after(t)
    row = summarize(t, args.clients, res, wall, smp.peak, proc_cpu_s(t["cpu_pid"]) - cpu0, state, next_ok)
    print(f"load: {args.clients} clients, {len(res)} requests (90% x = x + 1, 10% numpy) from one address in "
          f"{wall:.1f} s: {row['ok']} correct, refused {row['refused']}, reset {row['reset']}, "
          f"timeouts {row['timeout']}, 5xx {row['5xx']}, wrong {row['wrong']}; p50 {row['p50']:.0f} ms, "
          f"p99 {row['p99']:.0f} ms; {row['rps']:.1f} req/s; peak {row['peak_mib']:.0f} MiB; listener {state}")
    bad = row["ok"] != len(res) or not next_ok or state not in ("active", "running")
    return 1 if bad else 0


def memory(spec, args):
    """Per waiting instance: hold every slot (and some), then K requests that
    can only wait; (memory with them - memory without) / K."""
    t = next(t for t in spec["targets"] if t["name"] == args.target)
    if not t.get("cgroup"):
        print("memory: no cgroup for this target")
        return 0
    drain(t)
    hold = raw_request({"code": "import time\ntime.sleep(20)", "globals_dict": {},
                        "limit_overrides_context": args.context}, "burst-bench-hold")
    idle = cgroup_memory(t["cgroup"])
    socks = []

    def settle(n):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (instances(t) or 0) < n:
            time.sleep(0.2)
        time.sleep(1.5)  # read, parsed, parked in the queue
        vals = []
        for _ in range(10):
            vals.append(cgroup_memory(t["cgroup"]))
            time.sleep(0.1)
        return statistics.median(vals), instances(t)

    for _ in range(args.hold):
        s = socket.create_connection(("127.0.0.1", t["port"]), timeout=10)
        s.sendall(hold)
        socks.append(s)
    held, n_held = settle(args.hold)
    for _ in range(args.waiting):
        s = socket.create_connection(("127.0.0.1", t["port"]), timeout=10)
        s.sendall(RAW["x"])
        socks.append(s)
    full, n_full = settle(args.hold + args.waiting)
    per = (full - held) / max(1, n_full - n_held)
    print(f"memory: idle +0; {n_held} instances holding or waiting for every slot (sleeping executions): "
          f"+{(held - idle) / 2**20:.0f} MiB; {n_full - n_held} more waiting for a slot: "
          f"+{(full - held) / 2**20:.0f} MiB, {per / 2**10:.0f} KiB per waiting instance "
          f"(instance, its namespaces, systemd's unit, the journal's entry)")
    for s in socks:
        s.close()
    return 0


def burst(spec, args):
    """2,000 connections within ~1 s, plus a slow client holding many open;
    then the listener must be active and answer the next request."""
    t = spec["targets"][0]
    port = t["port"]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.connections + args.slow + 256
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(want, soft), max(want, hard)))

    # The slow client: connections that trickle a request line, one byte
    # every few seconds, and never finish it.
    slow = []
    n_slow = 0
    for _ in range(args.slow):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"P")
            slow.append(s)
            n_slow += 1
        except OSError:
            pass
    stop_slow = threading.Event()

    def trickle():
        while not stop_slow.wait(2):
            for s in list(slow):
                try:
                    s.send(b"O")
                except OSError:
                    slow.remove(s)
    threading.Thread(target=trickle, daemon=True).start()

    # The burst: non-blocking connects paced over ~1 s, each sends a request
    # as soon as it is connected and reads until EOF.
    sel = selectors.DefaultSelector()
    state = {}
    counts = {"refused": 0, "reset": 0, "ok": 0, "killed": 0, "wrong": 0, "5xx": 0, "4xx": 0, "timeout": 0}
    samples = []
    cpu0 = proc_cpu_s(t["cpu_pid"])
    smp = Sampler(t.get("cgroup"))
    smp.start()
    t0 = time.monotonic()
    opened = 0
    deadline = t0 + args.seconds
    while opened < args.connections or state:
        now = time.monotonic()
        # pace: connection i at t0 + i/N * 1 s
        while opened < args.connections and now >= t0 + opened / args.connections * args.spread:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            e = s.connect_ex(("127.0.0.1", port))
            if e not in (0, errno.EINPROGRESS):
                counts["refused"] += 1
                s.close()
            else:
                state[s] = {"sent": False, "buf": b""}
                sel.register(s, selectors.EVENT_WRITE)
            opened += 1
        if now > deadline:
            for s in list(state):
                counts["timeout"] += 1
                sel.unregister(s)
                s.close()
            state.clear()
            break
        for key, ev in sel.select(timeout=0.01):
            s = key.fileobj
            st = state[s]
            try:
                if not st["sent"]:
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        raise ConnectionRefusedError(err, os.strerror(err))
                    s.send(RAW["x"])  # small: fits the send buffer
                    st["sent"] = True
                    sel.modify(s, selectors.EVENT_READ)
                    continue
                b = s.recv(65536)
                if b:
                    st["buf"] += b
                    continue
                out, _ = classify("x", st["buf"])
            except ConnectionRefusedError:
                out = "refused"
            except OSError:
                out = classify("x", st["buf"])[0] if st["buf"] else "reset"
            counts[out] = counts.get(out, 0) + 1
            if out in ("wrong", "4xx", "5xx") and len(samples) < 3:
                samples.append(st["buf"][-300:])
            sel.unregister(s)
            s.close()
            del state[s]
    wall = time.monotonic() - t0
    stop_slow.set()
    smp.stop.set()
    smp.join()
    for s in slow:
        s.close()
    cpu = proc_cpu_s(t["cpu_pid"]) - cpu0
    lstate = cmd_out(t.get("state_cmd")) or "running"
    out, _, dt = one(port, "x")
    print(f"burst: {args.connections} connections opened within {args.spread:g} s ({n_slow} slow ones held "
          f"open meanwhile, {len(slow)} still open at the end), all settled in {wall:.1f} s: {counts['ok']} answered correctly, "
          f"{counts['killed']} killed by REALTIME (no core for them in time), "
          f"{counts['reset']} reset/closed, {counts['refused']} refused, {counts['5xx']} 5xx, "
          f"{counts['4xx']} 4xx, {counts['wrong']} wrong, {counts['timeout']} unsettled; "
          f"peak {smp.peak / 2**20:.0f} MiB, listener CPU {cpu:.1f} s")
    for b in samples:
        print(f"burst: unexpected answer: {b!r}")
    print(f"burst: afterwards the listener is {lstate}; the next request: {out} in {dt * 1e3:.0f} ms")
    # What item 0 of the issue demands: the listener survives and answers.
    # Past MaxConnections systemd resets; executions starved of CPU by the
    # start-up storm may hit REALTIME -- both reported, neither a failure.
    # A malformed or wrong answer is one.
    bad = lstate not in ("active", "running") or out != "ok" or counts["wrong"] or counts["4xx"]
    return 1 if bad else 0


# ---- LMS-like clients ------------------------------------------------------------

# edx-platform's remote_exec: requests.post(..., timeout=(0.5, 3.5)); a
# request that timed out or failed is shown to the student as an error,
# and the student submits again a little later -- twice at most, then goes
# on to the next problem (a program that sleeps past REALTIME never comes
# back within 3.5 s: resubmitted for ever, it would hold the students).
LMS_CONNECT_TIMEOUT_S = 0.5
RUSH_DRAIN_S = 600
RESUBMIT_S = (0.2, 1.0)
ATTEMPTS = 3


def lms_one(port, kind, patient):
    """One LMS-like attempt: (outcome, seconds, local port). patient: no
    client timeout (capacity)."""
    t0 = time.perf_counter()
    try:
        s = socket.create_connection(("127.0.0.1", port),
                                     timeout=CONNECT_TIMEOUT_S if patient else LMS_CONNECT_TIMEOUT_S)
    except OSError:
        return "refused", time.perf_counter() - t0, None
    lport = s.getsockname()[1]
    chunks = []
    try:
        s.settimeout(READ_TIMEOUT_S if patient else LMS_READ_TIMEOUT_S)
        s.sendall(RAW[kind])
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    except socket.timeout:
        return "timeout", time.perf_counter() - t0, lport
    except OSError:
        if not chunks:
            return "reset", time.perf_counter() - t0, lport
    finally:
        s.close()
    out, _ = classify(kind, b"".join(chunks))
    return out, time.perf_counter() - t0, lport


def run_lms(port, clients, seconds, patient, seed=29):
    """clients students for `seconds`: each submits the next problem of the
    mix, and one that failed or timed out again after 0.2-1 s. Returns the
    attempts [(kind, outcome, seconds, local port, end, wall-clock start)]
    and the wall time."""
    seq = sequence(4000, MIX, seed)
    attempts, lock, nxt = [], threading.Lock(), [0]
    t0 = time.perf_counter()
    stop_at = t0 + seconds

    def student(k):
        rnd = random.Random(seed + k)
        kind, tries = None, 0
        while time.perf_counter() < stop_at:
            if kind is None:
                with lock:
                    kind = seq[nxt[0] % len(seq)]
                    nxt[0] += 1
                tries = 0
            started = time.time()
            out, dt, lport = lms_one(port, kind, patient)
            tries += 1
            end = time.perf_counter()
            with lock:
                attempts.append((kind, out, dt, lport, end - t0, started))
            if out == "ok" or (out == "killed" and patient):
                kind = None
            else:
                if tries >= ATTEMPTS:
                    kind = None
                time.sleep(rnd.uniform(*RESUBMIT_S))

    ts = [threading.Thread(target=student, args=(k,), daemon=True) for k in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return attempts, time.perf_counter() - t0


def log_mark(t):
    """Where the target's log ends now: the activator's log file's size, or
    the container journal's last cursor (None: no log)."""
    if t.get("journal_cmd"):
        out = cmd_out(t["journal_cmd"] + ["-q", "-n", "1", "-o", "json"])
        try:
            return json.loads(out.splitlines()[-1])["__CURSOR"]
        except (ValueError, IndexError, KeyError):
            return None
    try:
        return os.path.getsize(t["log"]) if t.get("log") else None
    except OSError:
        return None


# The fields of the service's request line (journald or its stderr line).
LOG_FIELDS = ("CODEJAIL_STATUS", "REMOTE_PORT", "HTTP_PATH", "CODEJAIL_REQUEST_MS")


def log_entries(t, mark):
    """The service's request lines since mark, each {field: value} (None: no
    log). The journal: the service's own entries (SYSLOG_IDENTIFIER codejail,
    or codejail-baseline where an instance fell back to stderr); only one
    target runs at a time, so the window since the cursor is this target's."""
    if mark is None:
        return None
    if t.get("journal_cmd"):
        # What the instances sent is in the journal before it is read.
        cmd_out(t["journal_cmd"] + ["--sync"])
        try:
            out = subprocess.run(t["journal_cmd"] + [
                "-q", "--no-pager", "-o", "json", "--after-cursor", mark,
                "--output-fields=" + ",".join(LOG_FIELDS + ("MESSAGE",)),
                "SYSLOG_IDENTIFIER=codejail", "SYSLOG_IDENTIFIER=codejail-baseline"],
                capture_output=True, text=True, timeout=300).stdout
        except (OSError, subprocess.TimeoutExpired):
            return None
        entries = []
        for ln in out.splitlines():
            try:
                e = json.loads(ln)
            except ValueError:
                continue
            if not isinstance(e.get("CODEJAIL_STATUS"), str):
                e = dict(parse_log_line(str(e.get("MESSAGE", ""))), __REALTIME_TIMESTAMP=e.get("__REALTIME_TIMESTAMP"))
            entries.append(e)
        return entries
    try:
        with open(t["log"], errors="replace") as f:
            f.seek(mark)
            return [parse_log_line(ln) for ln in f]
    except OSError:
        return None


def parse_log_line(ln):
    """codejaild's stderr line: the message, then " KEY=VALUE" fields."""
    return {k: m.group(1) for k in LOG_FIELDS for m in [re.search(rf" {k}=(\S+)", ln)] if m}


def start_delays(entries, attempts):
    """Seconds from a client's connect to its instance's start, per request
    line with a journal timestamp: when journald received the line, less the
    request's own CODEJAIL_REQUEST_MS, less the latest connect from that
    local port before it. Empty without a journal (the activator's log has
    no timestamps)."""
    starts = {}
    for a in attempts:
        if a[3]:
            starts.setdefault(a[3], []).append(a[5])
    delays = []
    for e in entries or ():
        try:
            began = int(e["__REALTIME_TIMESTAMP"]) / 1e6 - int(e["CODEJAIL_REQUEST_MS"]) / 1e3
            before = [s for s in starts.get(int(e["REMOTE_PORT"]), ()) if s <= began + 0.05]
        except (KeyError, ValueError):
            continue
        if before and e.get("HTTP_PATH") == "/api/v0/code-exec":
            delays.append(max(0.0, began - max(before)))
    return delays


def log_statuses(entries, gave_up):
    """Entries per status, and the executions that ran to their end for a
    client that had given up (its local port among gave_up; a port reused
    by an answered request is left out)."""
    counts, late = {}, 0
    if entries is None:
        return counts, None
    for e in entries:
        st = e.get("CODEJAIL_STATUS")
        if not st or e.get("HTTP_PATH") != "/api/v0/code-exec":
            continue
        counts[st] = counts.get(st, 0) + 1
        p = e.get("REMOTE_PORT", "")
        if st.startswith("executed.") and p.isdigit() and int(p) in gave_up:
            late += 1
    return counts, late


def rush(spec, args):
    """Capacity (correct answers per second, patient clients at low
    concurrency), then goodput (correct answers received within 3.5 s per
    second) of LMS-like students at each level, per target, interleaved."""
    levels = [int(x) for x in args.rush_levels.split(",")]
    rows = []
    targets = spec["targets"]
    runs = [("capacity", args.capacity_clients)] + [("lms", n) for n in levels]
    print(f"rush: the mix ({', '.join(f'{p}% {k}' for k, p in MIX)}); {args.rush_seconds:.0f} s per run; "
          f"capacity with {args.capacity_clients} patient clients; LMS-like students: connect timeout "
          f"{LMS_CONNECT_TIMEOUT_S} s, read timeout {LMS_READ_TIMEOUT_S} s, resubmit after "
          f"{RESUBMIT_S[0]}-{RESUBMIT_S[1]} s, {ATTEMPTS} attempts per problem at most", flush=True)
    for ri, (what, clients) in enumerate(runs):
        for t in (targets if ri % 2 == 0 else targets[::-1]):
            drain(t)
            mark = log_mark(t)
            cpu0 = proc_cpu_s(t["cpu_pid"])
            att, wall = run_lms(t["port"], clients, args.rush_seconds, what == "capacity")
            cpu = proc_cpu_s(t["cpu_pid"]) - cpu0
            # Booted, up to MaxConnections= instances whose clients have
            # left still run their executions: the log is read after them.
            td = time.monotonic()
            if not drain(t, RUSH_DRAIN_S):
                print(f"  {t['name']}: instances still running {RUSH_DRAIN_S} s after the run: "
                      "the next run's log includes theirs", flush=True)
            td = time.monotonic() - td
            time.sleep(1)
            ok = [a for a in att if a[1] == "ok"]
            good = [a for a in ok if a[2] <= LMS_READ_TIMEOUT_S]
            gave_up = {a[3] for a in att if a[1] == "timeout" and a[3]} - {a[3] for a in att if a[1] == "ok"}
            entries = log_entries(t, mark)
            counts, late = log_statuses(entries, gave_up)
            delays = start_delays(entries, att)
            execs = sum(v for k, v in counts.items() if k.startswith("executed.") or k.startswith("stopped."))
            row = {"target": t["name"], "run": what, "clients": clients, "attempts": len(att),
                   "ok": len(ok), "rps": len(ok) / wall, "goodput": len(good) / wall,
                   "timeouts": sum(1 for a in att if a[1] == "timeout"),
                   "failed": sum(1 for a in att if a[1] not in ("ok", "timeout")),
                   "killed_cpu1s": sum(1 for a in att if a[1] == "killed" and a[0] == "cpu1s"),
                   "cpu1s": sum(1 for a in att if a[0] == "cpu1s" and a[1] in ("ok", "killed")),
                   "x_p50": pct([a[2] for a in ok if a[0] == "x"], 50) * 1e3,
                   "x_p99": pct([a[2] for a in ok if a[0] == "x"], 99) * 1e3,
                   "log": counts, "late": late, "executions": execs, "listener_cpu_s": cpu,
                   "start_p50": pct(delays, 50) * 1e3, "start_p99": pct(delays, 99) * 1e3}
            rows.append(row)
            print(f"  {t['name']:>10} {what} @{clients:<3}: {row['ok']} correct ({row['rps']:.1f}/s), goodput "
                  f"{row['goodput']:.1f}/s, timeouts {row['timeouts']}, other failures {row['failed']}, "
                  f"x p50/p99 {row['x_p50']:.0f}/{row['x_p99']:.0f} ms; log {counts}; executions finished "
                  f"for a client gone: {late}/{execs}; listener CPU {cpu:.1f} s; instance start after connect "
                  f"p50/p99 {row['start_p50']:.0f}/{row['start_p99']:.0f} ms; drained in {td:.0f} s", flush=True)
    print()
    for t in targets:
        print(f"- {t['name']}: {t.get('label', t['name'])}")
    print()
    print("| clients | variant | correct/s | goodput/s (<= 3.5 s) | goodput / capacity | client timeouts | "
          "x=x+1 p50 / p99 ms | 1 s loops killed by REALTIME | executions | finished for a client gone | "
          "stopped | left the queue | listener CPU s | instance start after connect p50 / p99 ms |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    cap = {r["target"]: r["rps"] for r in rows if r["run"] == "capacity"}

    def ms(v):
        return "-" if v != v else f"{v:.0f}"  # nan: nothing to measure it by
    for r in sorted(rows, key=lambda r: (r["run"] != "capacity", r["clients"], r["target"])):
        execs = r["executions"]
        if r["late"] is None:  # no log to read
            late = execs = stopped = left = "?"
        else:
            late = f"{r['late']} ({r['late'] / execs:.1%})" if execs else "0"
            stopped, left = r["log"].get("stopped.client_gone", 0), r["log"].get("queue.client_gone", 0)
        label = f"{r['clients']} patient" if r["run"] == "capacity" else f"{r['clients']} LMS-like"
        ratio = f"{r['goodput'] / cap[r['target']]:.2f}" if cap.get(r["target"]) else "?"
        print(f"| {label} | {r['target']} | {r['rps']:.1f} | {r['goodput']:.1f} | {ratio} | {r['timeouts']} | "
              f"{r['x_p50']:.0f} / {r['x_p99']:.0f} | {r['killed_cpu1s']}/{r['cpu1s']} | "
              f"{execs} | {late} | {stopped} | {left} | {r['listener_cpu_s']:.1f} | "
              f"{ms(r['start_p50'])} / {ms(r['start_p99'])} |")
    print("correct/s: correct answers per second, whenever received; goodput: those received within "
          "the LMS's 3.5 s; capacity: the patient clients' correct/s; executions, finished for a client "
          "gone (executed.* on the connection of a client that had timed out), stopped "
          "(stopped.client_gone) and left the queue (queue.client_gone): the target's log; "
          "listener CPU: systemd's PID 1 (booted) or systemd-socket-activate during the run; instance start "
          "after connect: the journal's time of the request line less its CODEJAIL_REQUEST_MS, less the "
          "client's connect (booted only; a FIN that is already there when the instance starts is taken "
          "for a half-close)")
    print()
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rush": rows, "labels": {t["name"]: t.get("label", t["name"]) for t in targets},
                       "rush_seconds": args.rush_seconds}, f, indent=1)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=("bench", "burst", "load", "memory", "table", "rush"))
    ap.add_argument("spec", help="the targets (table: a --json file of bench)")
    ap.add_argument("--levels", default="16,64,128,256")
    ap.add_argument("-n", "--requests", type=int, default=1000)
    ap.add_argument("--quick-mix", action="store_true", help="bench with the CI mix (no 1 s CPU, no sleep)")
    ap.add_argument("--clients", type=int, default=256)
    ap.add_argument("--connections", type=int, default=2000)
    ap.add_argument("--spread", type=float, default=1.0, help="burst: seconds over which to open them")
    ap.add_argument("--slow", type=int, default=100, help="burst: connections the slow client holds")
    ap.add_argument("--seconds", type=float, default=180, help="burst: give up on unsettled connections")
    ap.add_argument("--target", default="admission", help="memory: which target")
    ap.add_argument("--context", default="burst-bench-hold", help="memory: limit_overrides context, REALTIME > 20 s")
    ap.add_argument("--hold", type=int, default=64, help="memory: sleeping executions (more than the slots)")
    ap.add_argument("--waiting", type=int, default=256, help="memory: requests that can only wait")
    ap.add_argument("--rush-levels", default="16,64,256", help="rush: LMS-like students per run")
    ap.add_argument("--rush-seconds", type=float, default=60, help="rush: seconds per run")
    ap.add_argument("--capacity-clients", type=int, default=6, help="rush: patient clients measuring capacity")
    ap.add_argument("--json")
    args = ap.parse_args()
    spec = json.load(open(args.spec))
    if args.mode == "table":
        rows = spec["rows"]
        names = list(dict.fromkeys(r["target"] for r in rows))
        print_table(rows, [{"name": n, "label": spec.get("labels", {}).get(n, n)} for n in names])
        return 0
    if args.mode == "bench":
        bench(spec, args)
        return 0
    return {"burst": burst, "load": load, "memory": memory, "rush": rush}[args.mode](spec, args)


if __name__ == "__main__":
    sys.exit(main())
