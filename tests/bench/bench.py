#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""codejail-service benchmark: the service against the floor, in one run.

Run through tests/bench/run.sh (a loopback-only network namespace, codejaild
under systemd-socket-activate -a with the default limits). Measures:

* floor: the same wrapper program run directly as
  `/usr/bin/python3 -E -B jailed_code` with the same stdin, no service, no jail;
* sequential latency (median, p90, p99) of x = x + 1, of numpy, and of a
  1 MiB python_lib.zip upload + import, one request per connection;
* throughput and latency at 8 and 32 concurrent clients, with the error count;
* codejaild's own peak RSS and CPU per request (CODEJAIL_SERVICE_* fields of
  its log line, from getrusage(RUSAGE_SELF) of the instance, not the child);

and prints a table with the service/floor ratios. Medians, not means: the
machine is shared and noisy. The x = x + 1 rows (our wrapper bare,
upstream's wrapper bare, our wrapper in fresh namespaces by unshare(1), the
service) are measured interleaved, one of each
per round in a rotating order, so a busy spell lands on all three and their
ratios hold even when the absolute values do not. Numbers from one run are
comparable with each other; absolute values vary between runs.
"""

import argparse
import io
import json
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def multipart(payload, files=None):
    boundary = "benchboundary7d1c"
    out = io.BytesIO()
    parts = [("payload", None, payload.encode())]
    for name, data in (files or {}).items():
        parts.append((name, name, data))
    for name, filename, data in parts:
        out.write(f"--{boundary}\r\n".encode())
        disp = f'Content-Disposition: form-data; name="{name}"'
        if filename:
            disp += f'; filename="{filename}"'
        out.write((disp + "\r\n\r\n").encode())
        out.write(data)
        out.write(b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    body = out.getvalue()
    head = (f"POST /api/v0/code-exec HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    return head + body


def one_request(port, raw, timeout=60):
    """Send one prebuilt request on a fresh connection; return (status, body, seconds)."""
    t0 = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(raw)
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    finally:
        s.close()
    dt = time.perf_counter() - t0
    resp = b"".join(chunks)
    head, _, body = resp.partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/1\.[01] (\d+)", head)
    return (int(m.group(1)) if m else 0), body, dt


def check(status, body, expect):
    if status != 200:
        return False
    try:
        return expect(json.loads(body))
    except ValueError:
        return False


def sequential(port, raw, expect, n):
    times, errors = [], 0
    for _ in range(n):
        status, body, dt = one_request(port, raw)
        if check(status, body, expect):
            times.append(dt)
        else:
            errors += 1
    return times, errors


def concurrent(port, raw, expect, clients, seconds):
    lat, errors, lock = [], [0], threading.Lock()
    stop = time.perf_counter() + seconds

    def worker():
        while time.perf_counter() < stop:
            try:
                status, body, dt = one_request(port, raw)
                ok = check(status, body, expect)
            except OSError:
                ok, dt = False, 0
            with lock:
                if ok:
                    lat.append(dt)
                else:
                    errors[0] += 1

    self0 = resource.getrusage(resource.RUSAGE_SELF)
    wall, busy_ms = run_workers(worker, clients)
    self1 = resource.getrusage(resource.RUSAGE_SELF)
    n = max(len(lat), 1)
    client_ms = ((self1.ru_utime - self0.ru_utime) + (self1.ru_stime - self0.ru_stime)) * 1e3 / n
    return lat, errors[0], wall, busy_ms / n, client_ms


def run_workers(worker, clients):
    """Run `clients` threads of worker to the end: (wall seconds, the
    machine's busy CPU meanwhile in ms)."""
    busy0, t0 = busy_jiffies(), time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return wall, (busy_jiffies() - busy0) / os.sysconf("SC_CLK_TCK") * 1e3


def busy_jiffies():
    """All CPUs' non-idle time from /proc/stat (user+nice+system+irq+softirq+steal)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[0] + v[1] + v[2] + v[5] + v[6] + v[7]


# unshare(1) into the namespaces every execution gets (PID, mount, network,
# IPC, UTS, a procfs of its own): what they alone cost, no service code.
NS_PREFIX = ("unshare", "--fork", "--pid", "--mount", "--net", "--ipc", "--uts", "--mount-proc")


def floor_once(wrapper_dir, stdin, prefix=()):
    """One bare run of the wrapper: (wall s, CPU s)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run([*prefix, "/usr/bin/python3", "-E", "-B", "jailed_code"], input=stdin, cwd=wrapper_dir,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env={"PATH": "/usr/bin:/bin", "TMPDIR": "tmp", "HOME": "tmp", "LANG": "C.UTF-8"})
    dt = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise SystemExit(f"floor run failed: {p.stderr!r}")
    return dt, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def floor(wrapper_dir, stdin, n):
    runs = [floor_once(wrapper_dir, stdin) for _ in range(n)]
    return [t for t, _ in runs], [c for _, c in runs]


def interleaved(port, raw, expect, floors, n):
    """The x = x + 1 ratios on a noisy machine: round i runs each bare floor
    (floors: name -> (wrapper dir, stdin)) and one service request, in an
    order rotating with i, so drift lands on every row alike. Returns
    {name: (times, cpu)} for the floors and (times, errors) for the service."""
    jobs = [(name, lambda f=f: floor_once(*f)) for name, f in floors.items()]
    jobs.append(("service", lambda: one_request(port, raw)))
    out = {name: ([], []) for name, _ in jobs}
    errors = 0
    for i in range(n):
        k = i % len(jobs)
        for name, job in jobs[k:] + jobs[:k]:
            r = job()
            if name != "service":
                out[name][0].append(r[0])
                out[name][1].append(r[1])
            elif check(r[0], r[1], expect):
                out[name][0].append(r[2])
            else:
                errors += 1
    return out, errors


def floor_concurrent(wrapper_dir, stdin, clients, seconds, prefix=()):
    """The floor as a throughput ceiling: `clients` threads each running the
    wrapper directly, back to back, for `seconds` (prefix: e.g. unshare(1),
    to price fresh namespaces alone)."""
    lat, lock = [], threading.Lock()
    stop = time.perf_counter() + seconds
    env = {"PATH": "/usr/bin:/bin", "TMPDIR": "tmp", "HOME": "tmp", "LANG": "C.UTF-8"}

    def worker():
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            p = subprocess.run([*prefix, "/usr/bin/python3", "-E", "-B", "jailed_code"], input=stdin,
                               cwd=wrapper_dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
            dt = time.perf_counter() - t0
            if p.returncode != 0:
                raise SystemExit(f"floor run failed: {p.stderr!r}")
            with lock:
                lat.append(dt)

    wall, busy_ms = run_workers(worker, clients)
    machine_ms = busy_ms / max(len(lat), 1)
    return {"rps": len(lat) / wall, "median_ms": statistics.median(lat) * 1e3, "p90_ms": pct(lat, 90) * 1e3,
            "p99_ms": pct(lat, 99) * 1e3, "errors": 0, "requests": len(lat), "machine_cpu_ms": machine_ms,
            "client_cpu_ms": float("nan")}


def upstream_wrapper(ours):
    """Upstream's prologue in place of ours, line for line (json after a
    simplejson probe, six), and the json module path throughout."""
    lines = ours.split("\n")
    code_line = lines.index("code, g_dict = _loads(sys.stdin.read())")
    head = ["", "import sys", "try:", "    import simplejson as json", "except ImportError:", "    import json",
            "import six", "_FAST = False"]
    dev = lines[lines.index("class DevNull(object):"):code_line]
    new = head + dev + ["code, g_dict = json.load(sys.stdin)"]
    assert len(new) == code_line + 1, "upstream_wrapper: the line count changed"
    return "\n".join(new + lines[code_line + 1:])


def lib_zip(size):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("benchlib/__init__.py", "VALUE = 41\n")
        z.writestr("benchlib/blob.bin", os.urandom(size))
    return buf.getvalue()


def service_stats(log_path, since):
    """codejaild's own peak RSS (KiB) and CPU (ms) per request, from its log
    lines: the whole process, and of it what was spent before main() (the
    launcher's forked child, execve, dynamic linking)."""
    rss, cpu, startup = [], [], []
    with open(log_path, errors="replace") as f:
        for i, line in enumerate(f):
            if i < since or "CODEJAIL_SERVICE_MAXRSS_KB=" not in line:
                continue
            m1 = re.search(r"CODEJAIL_SERVICE_MAXRSS_KB=(\d+)", line)
            m2 = re.search(r"CODEJAIL_SERVICE_CPU_US=(\d+)", line)
            m3 = re.search(r"CODEJAIL_SERVICE_STARTUP_CPU_US=(\d+)", line)
            if m1 and m2 and m3:
                rss.append(int(m1.group(1)))
                cpu.append(int(m2.group(1)) / 1000.0)
                startup.append(int(m3.group(1)) / 1000.0)
    return rss, cpu, startup


def log_lines(path):
    with open(path, errors="replace") as f:
        return sum(1 for _ in f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.path.join(TOP, "build", "src", "codejaild"))
    ap.add_argument("--port", type=int, default=18080)
    ap.add_argument("-n", type=int, default=200, help="sequential requests per case")
    ap.add_argument("--floor-runs", type=int, default=100)
    ap.add_argument("--seconds", type=int, default=20, help="per concurrency level")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--compare", metavar="BINARY",
                    help="also run x = x + 1 through this other build, interleaved request by request "
                         "with --binary (an A/B of one change in one run)")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="cj-bench.")
    log = os.path.join(work, "service.log")
    services = []
    try:
        services.append(start_service(args.binary, args.port, work, "a", log))
        if args.compare:
            services.append(start_service(args.compare, args.port + 1, work, "b", os.path.join(work, "compare.log")))
        run(args, work, log)
    finally:
        for svc, logf in services:
            svc.terminate()
            svc.wait()
            logf.close()
        subprocess.run(["rm", "-rf", work])


def start_service(binary, port, work, name, log):
    """binary under systemd-socket-activate on port, with its own config and
    state dir (after a passing selfcheck); (process, log file)."""
    state = os.path.join(work, "state-" + name)
    os.mkdir(state)
    cfg = os.path.join(work, f"config-{name}.json")
    with open(cfg, "w") as f:
        json.dump({"enabled": True, "state_dir": state, "health_max_age_s": 86400}, f)
    subprocess.run([binary, "--config", cfg, "--selfcheck"], check=True, stderr=subprocess.DEVNULL)
    logf = open(log, "w")
    svc = subprocess.Popen(["systemd-socket-activate", "-l", f"127.0.0.1:{port}", "-a",
                            binary, "--config", cfg], stderr=logf, stdout=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    return svc, logf


def compare(port_a, port_b, raw, expect, n):
    """Interleaved A/B: request i goes to A then B (order alternating), so
    drift of a noisy machine lands on both."""
    a, b, errors = [], [], 0
    for i in range(n):
        for port, out in (((port_a, a), (port_b, b)) if i % 2 == 0 else ((port_b, b), (port_a, a))):
            status, body, dt = one_request(port, raw)
            if check(status, body, expect):
                out.append(dt)
            else:
                errors += 1
    return a, b, errors


def run(args, work, log):
    port = args.port
    results = {}

    # The exact jailed_code the service runs, read from inside the jail.
    st, body, _ = one_request(port, multipart(json.dumps(
        {"code": "w = open('jailed_code').read()", "globals_dict": {}})))
    wrapper = json.loads(body)["globals_dict"]["w"]
    wdir = os.path.join(work, "floor")
    os.makedirs(os.path.join(wdir, "tmp"))
    with open(os.path.join(wdir, "jailed_code"), "w") as f:
        f.write(wrapper)
    # The anchor: upstream codejail's wrapper, which imports json
    # (after probing simplejson) and six in every sandbox, run bare.
    udir = os.path.join(work, "floor-upstream")
    os.makedirs(os.path.join(udir, "tmp"))
    with open(os.path.join(udir, "jailed_code"), "w") as f:
        f.write(upstream_wrapper(wrapper))

    x_payload = {"code": "x = x + 1", "globals_dict": {"x": 16}}
    x_raw = multipart(json.dumps(x_payload))
    x_ok = lambda r: r == {"globals_dict": {"x": 17}}  # noqa: E731
    np_payload = {"code": "import numpy\nx = int(numpy.arange(1000).reshape(10, 100).sum())", "globals_dict": {}}
    np_ok = lambda r: r.get("globals_dict") == {"x": 499500}  # noqa: E731
    zip_payload = {"code": "import benchlib\nx = benchlib.VALUE + 1", "globals_dict": {},
                   "python_path": ["python_lib.zip"]}
    zip_raw = multipart(json.dumps(zip_payload), {"python_lib.zip": lib_zip(1 << 20)})
    zip_ok = lambda r: r.get("globals_dict") == {"x": 42}  # noqa: E731

    stdin = json.dumps([x_payload["code"], x_payload["globals_dict"]]).encode()
    np_stdin = json.dumps([np_payload["code"], {}]).encode()
    fnp, _ = floor(wdir, np_stdin, max(10, args.floor_runs // 4))
    results["floor_numpy"] = {"median_ms": statistics.median(fnp) * 1e3}

    mark = log_lines(log)
    runs, errors = interleaved(port, x_raw, x_ok, {"floor": (wdir, stdin), "floor_upstream": (udir, stdin),
                                                   "floor_ns": (wdir, stdin, NS_PREFIX)},
                               max(args.n, args.floor_runs))
    (ft, fcpu), (fu, _), (xt, _) = runs["floor"], runs["floor_upstream"], runs["service"]
    fns = runs["floor_ns"][0]
    results["floor_ns"] = {"median_ms": statistics.median(fns) * 1e3, "p90_ms": pct(fns, 90) * 1e3}
    results["floor"] = {"median_ms": statistics.median(ft) * 1e3, "p90_ms": pct(ft, 90) * 1e3,
                        "cpu_ms": statistics.median(fcpu) * 1e3}
    results["floor_upstream"] = {"median_ms": statistics.median(fu) * 1e3, "p90_ms": pct(fu, 90) * 1e3}
    results["x_plus_1"] = {"median_ms": statistics.median(xt) * 1e3 if xt else float("nan"),
                           "p90_ms": pct(xt, 90) * 1e3, "p99_ms": pct(xt, 99) * 1e3,
                           "errors": errors, "n": len(xt) + errors}
    for name, raw, ok in (("numpy", multipart(json.dumps(np_payload)), np_ok),
                          ("zip_1MiB", zip_raw, zip_ok)):
        times, errors = sequential(port, raw, ok, args.n)
        results[name] = {"median_ms": statistics.median(times) * 1e3 if times else float("nan"),
                         "p90_ms": pct(times, 90) * 1e3, "p99_ms": pct(times, 99) * 1e3,
                         "errors": errors, "n": args.n}
    if args.compare:
        a, b, errors = compare(port, port + 1, x_raw, x_ok, args.n)
        results["compare"] = {"binary": args.binary, "other": args.compare, "errors": errors, "n": args.n,
                              "median_ms": statistics.median(a) * 1e3, "other_median_ms": statistics.median(b) * 1e3,
                              "p90_ms": pct(a, 90) * 1e3, "other_p90_ms": pct(b, 90) * 1e3}
    rss, cpu, startup = service_stats(log, mark)
    own = [c - s for c, s in zip(cpu, startup)]
    results["service"] = {"peak_rss_kb_max": max(rss) if rss else None,
                          "peak_rss_kb_median": statistics.median(rss) if rss else None,
                          "cpu_ms_median": statistics.median(cpu) if cpu else None,
                          "startup_cpu_ms_median": statistics.median(startup) if startup else None,
                          "main_cpu_ms_median": statistics.median(own) if own else None,
                          "cpu_ms_p99": pct(cpu, 99) if cpu else None, "samples": len(rss)}

    # Throughput ceilings at the same concurrency: the bare floor, and the
    # floor in fresh PID, mount, network, IPC and UTS namespaces (unshare(1)),
    # i.e. what per-execution namespaces alone cost before any service code.
    for clients in (8, 32):
        results[f"floor_c{clients}"] = floor_concurrent(wdir, stdin, clients, args.seconds)
        results[f"floor_ns_c{clients}"] = floor_concurrent(wdir, stdin, clients, args.seconds, NS_PREFIX)
        lat, errors, wall, machine_ms, client_ms = concurrent(port, x_raw, x_ok, clients, args.seconds)
        results[f"c{clients}"] = {"rps": len(lat) / wall, "median_ms": statistics.median(lat) * 1e3 if lat else 0,
                                  "p90_ms": pct(lat, 90) * 1e3, "p99_ms": pct(lat, 99) * 1e3,
                                  "errors": errors, "requests": len(lat), "machine_cpu_ms": machine_ms,
                                  "client_cpu_ms": client_ms}

    cores = os.cpu_count() or 1
    floor_cpu_s = results["floor"]["cpu_ms"] / 1e3
    ideal_rps = cores / floor_cpu_s
    fl = results["floor"]["median_ms"]
    x = results["x_plus_1"]["median_ms"]
    svc = results["service"]

    print()
    print(f"codejail-service benchmark  ({cores} cores, {args.n} sequential requests/case, "
          f"{args.seconds} s per concurrency level)")
    print()
    up = results["floor_upstream"]["median_ms"]
    print("| measurement | median ms | p90 ms | p99 ms | errors | vs floor | vs upstream's wrapper bare |")
    print("|---|---|---|---|---|---|---|")
    print(f"| floor: upstream's wrapper (json, six), python3 -E -B jailed_code (x = x + 1) | {up:.1f} | "
          f"{results['floor_upstream']['p90_ms']:.1f} | | | {up / fl:.2f}x | 1.00x |")
    print(f"| floor: our wrapper, python3 -E -B jailed_code (x = x + 1) | {fl:.1f} | {results['floor']['p90_ms']:.1f} "
          f"| | | 1.00x | {fl / up:.2f}x |")
    fns = results["floor_ns"]["median_ms"]
    print(f"| floor: our wrapper in fresh namespaces, unshare(1) {' '.join(NS_PREFIX[1:])} (x = x + 1) | {fns:.1f} | "
          f"{results['floor_ns']['p90_ms']:.1f} | | | {fns / fl:.2f}x | {fns / up:.2f}x |")
    for name, label, base in (("x_plus_1", "service: x = x + 1", fl),
                              ("numpy", "service: import numpy + sum", results["floor_numpy"]["median_ms"]),
                              ("zip_1MiB", "service: 1 MiB python_lib.zip upload + import", fl)):
        r = results[name]
        print(f"| {label} | {r['median_ms']:.1f} | {r['p90_ms']:.1f} | {r['p99_ms']:.1f} | {r['errors']} | "
              f"{r['median_ms'] / base:.2f}x | {r['median_ms'] / up:.2f}x |" if name != "numpy" else
              f"| {label} | {r['median_ms']:.1f} | {r['p90_ms']:.1f} | {r['p99_ms']:.1f} | {r['errors']} | "
              f"{r['median_ms'] / base:.2f}x | |")
    print(f"| floor: numpy case | {results['floor_numpy']['median_ms']:.1f} | | | | |")
    print()
    if args.compare:
        r = results["compare"]
        print(f"A/B, x = x + 1, {r['n']} interleaved pairs: --binary median {r['median_ms']:.2f} ms "
              f"(p90 {r['p90_ms']:.2f}), --compare median {r['other_median_ms']:.2f} ms (p90 {r['other_p90_ms']:.2f}): "
              f"difference {r['median_ms'] - r['other_median_ms']:+.2f} ms, {r['errors']} errors")
        print()
    print("| clients | req/s | median ms | p90 ms | p99 ms | errors | vs cores/floor-CPU | machine CPU/req | of it, load generator |")
    print("|---|---|---|---|---|---|---|---|---|")
    for c in (8, 32):
        for key, label in ((f"floor_c{c}", f"{c}, floor"), (f"floor_ns_c{c}", f"{c}, floor in fresh namespaces"),
                           (f"c{c}", f"{c}, service")):
            r = results[key]
            gen = "" if r["client_cpu_ms"] != r["client_cpu_ms"] else f"{r['client_cpu_ms']:.1f} ms"
            print(f"| {label} | {r['rps']:.1f} | {r['median_ms']:.1f} | {r['p90_ms']:.1f} | {r['p99_ms']:.1f} | "
                  f"{r['errors']} | {r['rps'] / ideal_rps:.0%} of {ideal_rps:.1f} | {r['machine_cpu_ms']:.1f} ms | "
                  f"{gen} |")
    print()
    for c in (8, 32):
        print(f"at {c} clients the service reaches {results[f'c{c}']['rps'] / results[f'floor_c{c}']['rps']:.0%} "
              f"of the floor's throughput and {results[f'c{c}']['rps'] / results[f'floor_ns_c{c}']['rps']:.0%} "
              f"of the floor in fresh namespaces")
    print()
    print(f"floor CPU per run: {results['floor']['cpu_ms']:.1f} ms")
    if svc["samples"]:
        print(f"codejaild instance (not the Python child): peak RSS median {svc['peak_rss_kb_median'] / 1024:.2f} MiB, "
              f"max {svc['peak_rss_kb_max'] / 1024:.2f} MiB; process CPU per request median {svc['cpu_ms_median']:.2f} ms, "
              f"p99 {svc['cpu_ms_p99']:.2f} ms ({svc['samples']} requests); of it before main() (the activator's "
              f"forked child, execve, dynamic linking) {svc['startup_cpu_ms_median']:.2f} ms, "
              f"from main() to the log line {svc['main_cpu_ms_median']:.2f} ms")
    print()
    print("targets:")
    targets = [
        ("x = x + 1 median <= 0.95x upstream's wrapper bare", x <= 0.95 * up, f"{x / up:.2f}x"),
        ("x = x + 1 median <= 1.10x our wrapper bare", x <= 1.10 * fl,
         f"{x / fl:.2f}x; the namespaces alone, no service: {fns / fl:.2f}x"),
        ("32 clients: >= 90% of the floor-in-fresh-namespaces throughput",
         results["c32"]["rps"] >= 0.9 * results["floor_ns_c32"]["rps"],
         f"{results['c32']['rps'] / results['floor_ns_c32']['rps']:.0%}"),
        ("x = x + 1 median <= 1.25x floor", x <= 1.25 * fl, f"{x / fl:.2f}x"),
        ("x = x + 1 median <= floor + 5 ms", x <= fl + 5, f"+{x - fl:.1f} ms"),
        ("instance peak RSS < 4 MiB", svc["peak_rss_kb_max"] is not None and svc["peak_rss_kb_max"] < 4096,
         f"{(svc['peak_rss_kb_max'] or 0) / 1024:.2f} MiB"),
        ("instance CPU < 2 ms/request (main() to log line)",
         svc["main_cpu_ms_median"] is not None and svc["main_cpu_ms_median"] < 2,
         f"{svc['main_cpu_ms_median'] or 0:.2f} ms"),
        ("instance CPU < 2 ms/request (whole process, incl. start-up)",
         svc["cpu_ms_median"] is not None and svc["cpu_ms_median"] < 2, f"{svc['cpu_ms_median'] or 0:.2f} ms"),
        ("32 clients: zero errors", results["c32"]["errors"] == 0, str(results["c32"]["errors"])),
        ("32 clients: >= 80% of cores/floor-CPU", results["c32"]["rps"] >= 0.8 * ideal_rps,
         f"{results['c32']['rps'] / ideal_rps:.0%}"),
    ]
    for label, ok, got in targets:
        print(f"  [{'met' if ok else 'MISSED'}] {label}: {got}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    errors = sum(results[k]["errors"] for k in ("x_plus_1", "numpy", "zip_1MiB", "c8", "c32", "compare")
                 if k in results)
    if errors:
        raise SystemExit(f"bench: {errors} failed requests")


if __name__ == "__main__":
    main()
