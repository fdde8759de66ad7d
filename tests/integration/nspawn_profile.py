#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Where a connection's CPU goes under a booted systemd (nspawn-bench.sh --profile).

For each named variant of the bench spec, alone: `perf record -a -g` (the
cpu-clock software event, a fixed period: every sample is the same CPU
time, and it works where the VM has no hardware counters) around N
sequential `x = x + 1` requests, one per connection. Samples are then
split by who burnt them: the container's PID 1, the spawn of the instance
(the forked child and systemd-executor, systemd >= 255), codejaild,
python3, journald, kernel threads (netns and mount clean-up run there),
everything else. Only the first two are certainly the container's: the
machine is shared, and other people's codejaild and python3 count too. Per variant: CPU ms per connection for each;
then, for PID 1 and the spawn, the system calls (inclusive) and the
functions (self) that cost the most, side by side for every variant.

Input: the spec of nspawn-bench.sh (leader, variants with ports).
Output: markdown on stdout; the raw per-variant aggregates as JSON (--json).
"""

import argparse
import collections
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nspawn_bench as nb  # noqa: E402

PERIOD_NS = 250_000  # one sample per 0.25 ms of CPU

# PID 1 and the spawn are the container's own (its PID 1's pid, the
# executor's names); codejaild and python3 are any process of that name on
# this shared machine, kernel threads anyone's.
GROUPS = ("PID 1", "spawn (fork + systemd-executor)", "codejaild (machine-wide)", "python3 (machine-wide)",
          "journald", "kernel threads", "other")


def group_of(comm, pid, leader):
    if pid == leader:
        return "PID 1"
    # systemd >= 255 execs the executor from a descriptor: its comm is
    # that number ("9") until it renames itself "(codejaild)".
    if (comm.startswith(("systemd-execut", "(sd-", "(codejail", "(odejaild")) or comm.isdigit()):
        return "spawn (fork + systemd-executor)"
    if comm == "codejaild":
        return "codejaild (machine-wide)"
    if comm.startswith("python3"):
        return "python3 (machine-wide)"
    if comm.startswith("systemd-journal"):
        return "journald"
    if comm.startswith(("kworker", "ksoftirqd", "rcu", "migration", "kthreadd")):
        return "kernel threads"
    return "other"


HEAD = re.compile(r"^(\S.*?)\s+(\d+)\s+(\d+)\s*$")    # comm pid period (perf script -F comm,pid,period)
FRAME = re.compile(r"^\s+[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$")


def parse(script_out, leader):
    """Aggregate `perf script -F comm,pid,period,ip,sym,dso` output."""
    agg = {g: {"ns": 0, "sys": collections.Counter(), "self": collections.Counter()} for g in GROUPS}
    comm = None
    frames = []

    def flush():
        if comm is None:
            return
        c, pid, period = comm
        if c == "swapper" or pid == 0:
            return
        a = agg[group_of(c, pid, leader)]
        a["ns"] += period
        if frames:
            a["self"][frames[0]] += period
        seen = set()
        for f in frames:
            # The outermost system call entry on the stack (inclusive).
            m = re.match(r"(?:__x64_sys|__do_sys|__se_sys)_(\w+)", f)
            if m and m.group(1) not in seen:
                seen.add(m.group(1))
        for s in seen:
            a["sys"][s] += period

    for line in script_out.splitlines():
        if not line.strip():
            flush()
            comm, frames = None, []
            continue
        m = HEAD.match(line)
        if m and not line.startswith((" ", "\t")):
            flush()
            comm, frames = (m.group(1).strip(), int(m.group(2)), int(m.group(3))), []
            continue
        f = FRAME.match(line)
        if f and comm is not None:
            sym = re.sub(r"\+0x[0-9a-f]+$", "", f.group(1))
            dso = os.path.basename(f.group(2))
            frames.append(sym if sym != "[unknown]" else f"[{dso}]")
    flush()
    return agg


def profile(port, n, leader, symfs, tmp, name):
    data = os.path.join(tmp, f"perf-{name}.data")
    # Warm-up outside the recording.
    for _ in range(3):
        nb.timed(port, nb.X_RAW, nb.ok_x)
    rec = subprocess.Popen(["perf", "record", "-q", "-a", "-g", "-e", "cpu-clock", "-c", str(PERIOD_NS), "-o", data],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    errors = 0
    try:
        for _ in range(n):
            ok, _, _ = nb.timed(port, nb.X_RAW, nb.ok_x)
            errors += not ok
    finally:
        rec.send_signal(signal.SIGINT)
        rec.wait(timeout=60)
    args = ["perf", "script", "-i", data, "-F", "comm,pid,period,ip,sym,dso"]
    if symfs:
        # --symfs would hide the running kernel's symbols: named apart.
        args += [f"--symfs={symfs}", "--kallsyms=/proc/kallsyms"]
    out = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, errors="replace").stdout
    os.unlink(data)
    return parse(out, leader), errors


TRACE = re.compile(r"^\s*[\d.]+\s+\(\s*([\d.]+) ms\):\s+(.*?)/(\d+)\s+(\w+)\(")


def trace(port, n, leader, tmp, name, min_ms):
    """Off-CPU: the system calls that took longer than min_ms of wall clock
    (perf trace -a --duration), by process group and call."""
    out = os.path.join(tmp, f"trace-{name}.txt")
    for _ in range(3):
        nb.timed(port, nb.X_RAW, nb.ok_x)
    tr = subprocess.Popen(["perf", "trace", "-a", "--duration", str(min_ms), "-o", out],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    errors = 0
    try:
        time.sleep(1)  # perf trace attaches its tracepoints
        for _ in range(n):
            ok, _, _ = nb.timed(port, nb.X_RAW, nb.ok_x)
            errors += not ok
    finally:
        tr.send_signal(signal.SIGINT)
        tr.wait(timeout=60)
    waits = collections.Counter()
    counts = collections.Counter()
    with open(out, errors="replace") as f:
        for line in f:
            m = TRACE.match(line)
            if not m:
                continue
            dur, comm, tid, call = float(m.group(1)), m.group(2), int(m.group(3)), m.group(4)
            g = group_of(comm, tid, leader)
            # perf trace pairs a lost entry with a later exit: nothing here takes 10 s
            if dur > 10_000:
                continue
            if g == "other":
                continue
            waits[(g, call)] += dur
            counts[(g, call)] += 1
    os.unlink(out)
    return waits, counts, errors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("spec")
    ap.add_argument("--variants", required=True, help="comma-separated variant names of the spec")
    ap.add_argument("-n", type=int, default=100, help="requests per variant")
    ap.add_argument("--symfs", help="the container's root as the host sees it (its binaries' symbols)")
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--json")
    ap.add_argument("--trace-ms", type=float, default=0.5,
                    help="also list system calls longer than this (wall clock, perf trace); 0: not")
    args = ap.parse_args()
    spec = json.load(open(args.spec))
    by = {v["name"]: v for v in spec["variants"]}
    names = args.variants.split(",")
    res = {}
    with tempfile.TemporaryDirectory(prefix="cj-profile.") as tmp:
        for name in names:
            agg, errors = profile(by[name]["port"], args.n, spec["leader"], args.symfs, tmp, name)
            res[name] = {"agg": agg, "errors": errors}
            if args.trace_ms > 0:
                w, c, e2 = trace(by[name]["port"], args.n, spec["leader"], tmp, name, args.trace_ms)
                res[name].update(waits=w, counts=c)
                errors += e2
            if errors:
                print(f"{name}: {errors} failed requests", file=sys.stderr)

    def ms(ns):
        return ns / 1e6 / args.n

    print(f"\n### CPU per connection by process (perf, cpu-clock every {PERIOD_NS // 1000} us, "
          f"{args.n} sequential x = x + 1 per variant, each alone)\n")
    print("| process | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for g in GROUPS:
        print(f"| {g} | " + " | ".join(f"{ms(res[n]['agg'][g]['ns']):.2f}" for n in names) + " |")
    print("| **all but other** | " + " | ".join(
        f"{ms(sum(a['ns'] for g, a in res[n]['agg'].items() if g != 'other')):.2f}" for n in names) + " |")
    print("\n(other: every other process on this shared machine in the same seconds, not the connection's)")

    for g in ("PID 1", "spawn (fork + systemd-executor)", "kernel threads"):
        for kind, title in (("sys", "system calls, inclusive"), ("self", "functions, self")):
            tot = collections.Counter()
            for n in names:
                tot.update(res[n]["agg"][g][kind])
            top = [k for k, _ in tot.most_common(args.top)]
            if not top:
                continue
            print(f"\n{g}: {title}, CPU ms per connection\n")
            print("| | " + " | ".join(names) + " |")
            print("|---|" + "---|" * len(names))
            for k in top:
                print(f"| `{k}` | " + " | ".join(f"{ms(res[n]['agg'][g][kind][k]):.2f}" for n in names) + " |")
    if args.trace_ms > 0:
        tot = collections.Counter()
        for n in names:
            tot.update(res[n]["waits"])
        print(f"\n### Wall clock in system calls longer than {args.trace_ms:g} ms (perf trace -a --duration; "
              f"off-CPU included), ms per connection (calls per connection)\n")
        print("| process: call | " + " | ".join(names) + " |")
        print("|---|" + "---|" * len(names))
        for k, _ in tot.most_common(args.top * 2):
            print(f"| {k[0]}: `{k[1]}` | " + " | ".join(
                f"{res[n]['waits'][k] / args.n:.2f} ({res[n]['counts'][k] / args.n:.1f})" for n in names) + " |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({n: {g: {"ms": ms(a["ns"]), "sys": {k: ms(v) for k, v in a["sys"].most_common(40)},
                               "self": {k: ms(v) for k, v in a["self"].most_common(40)}}
                           for g, a in r["agg"].items()} for n, r in res.items()}, f, indent=1)
    return 1 if any(r["errors"] for r in res.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
