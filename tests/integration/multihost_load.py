#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Load, balancer watch and verdict of the multi-host tier (multihost-test.sh).

  load   --base URL --stats SOCK --scenario NAME --duration S [--stop-file F]
         [--clients N] --out DIR
         steady mixed code-execs from one client address, every answer
         checked; meanwhile HAProxy's stats socket sampled every 100 ms
         (each server's state and requests in flight).
  state  SOCK SERVER      print SERVER's state (UP, DOWN, ...) once.
  report --work DIR --inter S
         per scenario: requests, errors, wrong answers, duplicates (a slug
         executed more than once, from every host's journal), per-host
         executions, refusals retried, drain time; exit 1 when a target is
         missed.

Every request carries a unique slug (logged as CODEJAIL_SLUG) and the same
marker in its code, so each execution in a host's journal is one request.
"""
import argparse
import csv
import io
import json
import os
import random
import socket
import sys
import threading
import time
from collections import Counter, defaultdict

BACKEND = "codejail"
SERVERS = ["codejail1", "codejail2", "codejail3"]
# More patient than the LMS (0.5 s connect, 3.5 s read): this 2-core machine
# runs three booted hosts and the balancer, and a slow answer is not a
# failover error. Answers slower than the LMS would wait are counted apart.
TIMEOUT = (2, 15)
LMS_READ_TIMEOUT = 3.5


def show_stat(sock_path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    s.connect(sock_path)
    s.sendall(b"show stat\n")
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    text = data.decode().lstrip("# ")
    rows = {}
    for r in csv.DictReader(io.StringIO(text)):
        if r.get("pxname") == BACKEND:
            rows[r["svname"]] = r
    return rows


def request_for(scenario, n, rng):
    """(slug, payload, check) of one request: mostly fast, some slower."""
    slug = f"{scenario}-{n}"
    if rng.random() < 0.8:
        a, b = rng.randrange(10**6), rng.randrange(10**6)
        code = f"# {slug}\nx = a + b"
        return slug, "fast", {"code": code, "globals_dict": {"a": a, "b": b}, "slug": slug}, ("x", a + b)
    n_loop = rng.randrange(1500000, 3000000)
    code = f"# {slug}\nt = 0\nfor i in range(n):\n    t += i\ndel i"
    return slug, "slow", {"code": code, "globals_dict": {"n": n_loop}, "slug": slug}, ("t", n_loop * (n_loop - 1) // 2)


def load(args):
    import requests

    os.makedirs(args.out, exist_ok=True)
    stop = threading.Event()
    records, samples = [], []
    lock = threading.Lock()
    counter = iter(range(10**9))
    url = args.base + "/api/v0/code-exec"

    def client(i):
        rng = random.Random(f"{args.scenario}-{i}")
        while not stop.is_set():
            with lock:
                n = next(counter)
            slug, kind, payload, (var, want) = request_for(args.scenario, n, rng)
            rec = {"slug": slug, "kind": kind, "t0": time.time()}
            try:
                r = requests.post(url, data={"payload": json.dumps(payload)}, timeout=TIMEOUT)
                rec["status"] = r.status_code
                if r.status_code != 200:
                    rec["outcome"], rec["detail"] = "error", f"HTTP {r.status_code}: {r.text[:200]}"
                else:
                    body = r.json()
                    got = body.get("globals_dict", {}).get(var)
                    if body.get("emsg") is None and got == want:
                        rec["outcome"] = "ok"
                    else:
                        rec["outcome"], rec["detail"] = "wrong", f"{var}={got!r} want {want!r} emsg={body.get('emsg')!r}"
            except Exception as e:  # a reset, a timeout: client-visible
                rec["outcome"], rec["detail"] = "error", f"{type(e).__name__}: {e}"[:300]
            rec["t1"] = time.time()
            with lock:
                records.append(rec)
            stop.wait(rng.uniform(0, 0.04))

    def watch():
        while not stop.is_set():
            t = time.time()
            try:
                rows = show_stat(args.stats)
                samples.append({"t": t, "servers": {k: {f: v[f] for f in ("status", "scur", "wretr", "wredis", "econ", "eresp")}
                                                     for k, v in rows.items()}})
            except OSError as e:
                samples.append({"t": t, "error": str(e)})
            stop.wait(0.1)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    w = threading.Thread(target=watch)
    w.start()
    t_start = time.time()
    for t in threads:
        t.start()
    deadline = time.monotonic() + args.duration
    while time.monotonic() < deadline:
        if args.stop_file and os.path.exists(args.stop_file):
            break
        time.sleep(0.1)
    stop.set()
    for t in threads:
        t.join()
    w.join()
    with open(os.path.join(args.out, f"load-{args.scenario}.json"), "w") as f:
        json.dump({"scenario": args.scenario, "t_start": t_start, "t_end": time.time(),
                   "requests": records, "samples": samples}, f)
    bad = sum(r["outcome"] != "ok" for r in records)
    print(f"   load {args.scenario}: {len(records)} requests, {bad} not ok")


def state(args):
    print(show_stat(args.sock)[args.server]["status"])


def journal_entries(work):
    """slug -> [host, ...] of its executions; [(host, time, status)] of the
    other code-exec entries (refusals: no slug, they precede the payload)."""
    execs, other = defaultdict(list), []
    for name in sorted(os.listdir(work)):
        if not (name.startswith("journal-") and name.endswith(".json")):
            continue
        host = name[len("journal-"):-len(".json")]
        with open(os.path.join(work, name)) as f:
            for line in f:
                e = json.loads(line)
                st = e.get("CODEJAIL_STATUS", "")
                if st.startswith("executed") and e.get("CODEJAIL_SLUG"):
                    execs[e["CODEJAIL_SLUG"]].append(host)
                elif st and not st.startswith("health."):
                    other.append((host, int(e["__REALTIME_TIMESTAMP"]) / 1e6, st))
    return execs, other


def transitions(samples, server):
    """[(t, state)] each time SERVER's state changed."""
    out, last = [], None
    for s in samples:
        st = s.get("servers", {}).get(server, {}).get("status")
        if st and st != last:
            out.append((s["t"], st))
            last = st
    return out


def counters(samples, field):
    ok = [s for s in samples if "servers" in s]
    if not ok:
        return 0
    return sum(int(ok[-1]["servers"][k][field] or 0) - int(ok[0]["servers"][k][field] or 0) for k in SERVERS)


def report(args):
    work, inter = args.work, args.inter
    execs, other = journal_entries(work)
    events = []
    if os.path.exists(os.path.join(work, "events.jsonl")):
        with open(os.path.join(work, "events.jsonl")) as f:
            events = [json.loads(line) for line in f if line.strip()]
    misses = []
    print(f"== multihost summary (health check every {inter:g} s; host = HAProxy server)")
    for scen in ("spread", "unhealthy", "poweroff", "comeback"):
        path = os.path.join(work, f"load-{scen}.json")
        if not os.path.exists(path):
            misses.append(f"{scen}: no load results")
            continue
        with open(path) as f:
            d = json.load(f)
        reqs, samples = d["requests"], d["samples"]
        errors = [r for r in reqs if r["outcome"] == "error"]
        wrong = [r for r in reqs if r["outcome"] == "wrong"]
        slugs = {r["slug"] for r in reqs}
        answered = {r["slug"] for r in reqs if r["outcome"] == "ok"}
        dups = sorted(s for s in slugs if len(execs.get(s, [])) > 1)
        lost = sorted(s for s in answered if not execs.get(s))
        per_host = Counter(h for s in slugs for h in execs.get(s, []))
        slow = sum(1 for r in reqs if r["outcome"] == "ok" and r["t1"] - r["t0"] > LMS_READ_TIMEOUT)
        lat = sorted(r["t1"] - r["t0"] for r in reqs if r["outcome"] == "ok")
        p50 = lat[len(lat) // 2] * 1000 if lat else 0
        p99 = lat[int(len(lat) * 0.99)] * 1000 if lat else 0
        retried, redispatched = counters(samples, "wretr"), counters(samples, "wredis")
        ev = [e for e in events if e["scenario"] == scen]
        line = (f"   {scen:9s} requests {len(reqs)}, errors {len(errors)}, wrong {len(wrong)}, "
                f"duplicates {len(dups)}, per host {dict(sorted(per_host.items()))}, "
                f"retried {retried} (to another host {redispatched}), p50 {p50:.0f} ms p99 {p99:.0f} ms, >3.5 s {slow}")
        print(line)
        refused = Counter(f"{h} {st}" for h, t, st in other if d["t_start"] <= t <= d["t_end"] + 1)
        if refused:
            print(f"     not executed where first sent (each retried): {dict(refused)}")
        for r in errors[:10]:
            print(f"     error {r['slug']} at {r['t0']:.2f}: {r.get('detail')}")
        for r in wrong[:10]:
            print(f"     wrong {r['slug']}: {r.get('detail')}")
        if dups:
            print(f"     executed more than once: {[(s, execs[s]) for s in dups[:10]]}")
        if lost:
            # Answered, yet in no journal: a host's journal lost entries.
            print(f"     answered but in no host's journal: {len(lost)} (e.g. {lost[:3]})")
        if not reqs:
            misses.append(f"{scen}: no requests")
        if wrong:
            misses.append(f"{scen}: {len(wrong)} wrong answers")
        if dups:
            misses.append(f"{scen}: {len(dups)} requests executed more than once")
        if lost:
            misses.append(f"{scen}: {len(lost)} answered requests in no journal")
        if scen == "spread":
            if errors:
                misses.append(f"spread: {len(errors)} errors")
            idle = [h for h in ("h1", "h2", "h3") if not per_host.get(h)]
            if idle:
                misses.append(f"spread: {idle} served nothing")
        for e in ev:
            srv, t = e["server"], e["t"]
            tr = [(tt, st) for tt, st in transitions(samples, srv) if tt >= t]
            if e["event"] == "fault":
                down = next((tt for tt, st in tr if st.startswith("DOWN")), None)
                before = [s for s in samples if "servers" in s and s["t"] <= t]
                inflight = int(before[-1]["servers"][srv]["scur"]) if before else 0
                after = [r for r in errors if down is not None and r["t0"] > down]
                drain = (down - t) if down is not None else None
                print(f"     {e['what']} on {srv} at +{t - d['t_start']:.1f} s: "
                      f"{'drained (DOWN) after %.2f s' % drain if drain is not None else 'NEVER drained'}; "
                      f"in flight on it then {inflight}; errors after the drain {len(after)}")
                if drain is None:
                    misses.append(f"{scen}: {srv} never marked DOWN")
                    continue
                if scen == "unhealthy":
                    if drain > 2 * inter:
                        misses.append(f"unhealthy: drained after {drain:.2f} s > 2 intervals ({2 * inter:g} s)")
                    if errors:
                        misses.append(f"unhealthy: {len(errors)} errors during the drain")
                if scen == "poweroff":
                    if len(errors) > inflight:
                        misses.append(f"poweroff: {len(errors)} errors > {inflight} in flight on the host")
                    if after:
                        misses.append(f"poweroff: {len(after)} errors after the drain")
            elif e["event"] == "back":
                up = next((tt for tt, st in tr if st.startswith("UP")), None)
                served = sum(1 for r in reqs if up is not None and r["t0"] > up
                             and e["host"] in execs.get(r["slug"], []))
                print(f"     {srv} {e['what']} at +{t - d['t_start']:.1f} s: "
                      f"{'in rotation (UP) after %.2f s' % (up - t) if up is not None else 'never back UP'}; "
                      f"served {served} after that")
                if up is None or not served:
                    misses.append(f"{scen}: {srv} did not come back and serve")
                if errors:
                    misses.append(f"{scen}: {len(errors)} errors")
    for m in misses:
        print(f"FAIL: {m}")
    return 1 if misses else 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("load")
    p.add_argument("--base", required=True)
    p.add_argument("--stats", required=True)
    p.add_argument("--scenario", required=True)
    p.add_argument("--duration", type=float, required=True)
    p.add_argument("--stop-file")
    p.add_argument("--clients", type=int, default=3)
    p.add_argument("--out", required=True)
    p = sub.add_parser("state")
    p.add_argument("sock")
    p.add_argument("server")
    p = sub.add_parser("report")
    p.add_argument("--work", required=True)
    p.add_argument("--inter", type=float, required=True)
    a = ap.parse_args()
    if a.cmd == "load":
        load(a)
    elif a.cmd == "state":
        state(a)
    else:
        sys.exit(report(a))


if __name__ == "__main__":
    main()
