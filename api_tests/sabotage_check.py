#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Sabotage check: prove every deny test depends on the layers it names.

Runs the api_tests suite against the sabotage build (src/codejaild-sabotage,
which honours CODEJAIL_SABOTAGE=layer,layer,...|all) and asserts:

  baseline  CODEJAIL_SABOTAGE unset   every collected test PASSES
  all       CODEJAIL_SABOTAGE=all     every test_deny_* FAILS, every
                                      test_allow_* / test_support_* PASSES
  per set   for each distinct @pytest.mark.layers(...) value, only the deny
            tests carrying it, with exactly those layers off: each FAILS

A deny test that *errors* (fixture/transport problem) or fails with
conftest.ServiceAnswerError (non-200 answer, the probe code itself crashed)
counts as a mismatch ("broken"): only the test's own assertion failing shows
that the denial went away.

Transports:
  --transport exec   API_TEST_EXEC="<binary> --config CFG --exec"; the
                     sabotage variable is set in the environment of pytest and
                     so of every codejaild child.
  --transport http   per run, start --service-cmd (a template with {binary},
                     {config}, {port}, {sabotage}) and stop it afterwards; the
                     default uses systemd-socket-activate on 127.0.0.1.

With everything off the code runs as root on this host, so this refuses to
run outside a loopback-only network namespace: use `api_tests/run.sh
sabotage-exec` / `sabotage-http`.
"""

import argparse
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
DEFAULT_SERVICE_CMD = ("systemd-socket-activate -l 127.0.0.1:{port} -a -E CJS_TEST_ENV_LEAKAGE=yes "
                       "-E CODEJAIL_SABOTAGE={sabotage} {binary} --config {config}")


def loopback_only():
    with open("/proc/self/net/dev") as f:
        return [line.split(":")[0].strip() for line in f.readlines()[2:]] == ["lo"]


class Runner:
    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="cj-sabotage-")
        state = os.path.join(self.tmp, "state")
        os.mkdir(state)
        self.config = os.path.join(self.tmp, "codejail.json")
        with open(self.config, "w") as f:
            json.dump({"enabled": True, "state_dir": state, "health_max_age_s": 86400,
                       "limit_overrides": {"api-tests": {"CPU": 1, "REALTIME": 10}}}, f)
        self.n = 0

    def selfcheck(self):
        env = {k: v for k, v in os.environ.items() if k != "CODEJAIL_SABOTAGE"}
        p = subprocess.run([self.args.binary, "--config", self.config, "--selfcheck"], env=env,
                           capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"selfcheck of {self.args.binary} failed (rc {p.returncode}):\n{p.stdout}{p.stderr}")

    def base_env(self, sabotage):
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("API_TEST_"):
                del env[k]
        env["CJS_TEST_ENV_LEAKAGE"] = "yes"
        env.pop("CODEJAIL_SABOTAGE", None)
        if sabotage:
            env["CODEJAIL_SABOTAGE"] = sabotage
        return env

    def collect(self):
        dump = os.path.join(self.tmp, "layers.json")
        env = self.base_env(None)
        env.update(self.transport_env(None))
        env["API_TEST_LAYERS_DUMP"] = dump
        p = subprocess.run([PY, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"] +
                           self.marker_args(), cwd=HERE, env=env, capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"collection failed:\n{p.stdout}{p.stderr}")
        with open(dump) as f:
            return json.load(f)

    def marker_args(self):
        m = "not disabled_service and not unhealthy_service"
        if self.args.transport == "exec":
            m += " and not http"
        return ["-m", m]

    def transport_env(self, port):
        if self.args.transport == "exec":
            return {"API_TEST_EXEC": f"{shlex.quote(self.args.binary)} --config {shlex.quote(self.config)} --exec"}
        return {"API_TEST_SERVICE_BASE": f"http://127.0.0.1:{port or self.args.port}"}

    def start_service(self, sabotage, port):
        cmd = self.args.service_cmd.format(binary=shlex.quote(self.args.binary), config=shlex.quote(self.config),
                                           port=port, sabotage=shlex.quote(sabotage or "none"))
        log = open(os.path.join(self.tmp, f"service-{port}.log"), "w")
        proc = subprocess.Popen(shlex.split(cmd), env=self.base_env(sabotage), stdout=log, stderr=log,
                                start_new_session=True)
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    s.sendall(b"GET /health/ HTTP/1.0\r\n\r\n")
                    s.recv(100)
                return proc
            except OSError:
                if proc.poll() is not None:
                    sys.exit(f"service command exited {proc.returncode}: {cmd}")
                time.sleep(0.05)
        proc.kill()
        sys.exit(f"service did not come up on port {port}: {cmd}")

    def run(self, label, sabotage, nodeids=None):
        """Run pytest; return {nodeid: 'passed'|'failed'|'broken'|'error'|'skipped'}."""
        self.n += 1
        xml = os.path.join(self.tmp, f"run{self.n}.xml")
        port = self.args.port + self.n
        proc = None
        env = self.base_env(sabotage)
        if self.args.transport == "http":
            proc = self.start_service(sabotage, port)
        env.update(self.transport_env(port))
        argv = [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={xml}"] + self.marker_args()
        argv += list(nodeids or [])
        print(f"--- run {self.n}: {label}: CODEJAIL_SABOTAGE={sabotage or '(unset)'}, "
              f"{len(nodeids) if nodeids else 'all'} tests", flush=True)
        try:
            p = subprocess.run(argv, cwd=HERE, env=env, capture_output=True, text=True, timeout=self.args.timeout)
        finally:
            if proc:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait()
        if self.args.verbose:
            print(p.stdout[-20000:], p.stderr[-5000:])
        if not os.path.exists(xml):
            sys.exit(f"pytest wrote no junit xml (rc {p.returncode}):\n{p.stdout[-5000:]}{p.stderr[-5000:]}")
        return parse_junit(xml)


def parse_junit(path):
    out = {}
    for tc in ET.parse(path).getroot().iter("testcase"):
        nodeid = tc.get("classname", "").replace(".", "/") + ".py::" + tc.get("name", "")
        if tc.find("error") is not None:
            out[nodeid] = "error"
        elif tc.find("failure") is not None:
            # a deny test only counts as "failed" on its own assertion; a
            # ServiceAnswerError (non-200, probe crashed) means the run broke
            f = tc.find("failure")
            text = (f.get("message") or "") + (f.text or "")[-3000:]
            out[nodeid] = "broken" if "ServiceAnswerError" in text else "failed"
        elif tc.find("skipped") is not None:
            out[nodeid] = "skipped"
        else:
            out[nodeid] = "passed"
    return out


def kind(name):
    for k in ("deny", "allow", "support"):
        if name.startswith(f"test_{k}_"):
            return k
    return "other"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--transport", choices=["exec", "http"], default="exec")
    ap.add_argument("--binary", required=True, help="the sabotage build of codejaild")
    ap.add_argument("--service-cmd", default=DEFAULT_SERVICE_CMD,
                    help="http: command template started per run ({binary} {config} {port} {sabotage})")
    ap.add_argument("--port", type=int, default=18100, help="http: base port (each run uses the next one)")
    ap.add_argument("--no-baseline", action="store_true", help="skip the run with nothing switched off")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per pytest run")
    ap.add_argument("--depth", action="store_true",
                    help="also report, per deny test, which layer of its set denies on its own "
                         "(run with all the others of the set off); informational, not asserted")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    if not loopback_only() and os.environ.get("API_TEST_SABOTAGE_ANY_NETWORK") != "1":
        sys.exit("refusing: not in a loopback-only network namespace (use api_tests/run.sh sabotage-...)")
    if not os.access(args.binary, os.X_OK):
        sys.exit(f"not executable: {args.binary}")

    r = Runner(args)
    r.selfcheck()
    tests = r.collect()
    deny = {n: t for n, t in tests.items() if kind(t["name"]) == "deny"}
    sets = {}
    for n, t in deny.items():
        sets.setdefault(",".join(sorted(t["layers"])), []).append(n)

    mismatches = []
    rows = {n: {} for n in tests}

    if not args.no_baseline:
        res = r.run("baseline", None)
        for n in tests:
            got = res.get(n, "missing")
            rows[n]["baseline"] = got
            if got != "passed":
                mismatches.append((n, "baseline", "passed", got))

    res = r.run("all off", "all")
    for n, t in tests.items():
        want = "failed" if kind(t["name"]) == "deny" else "passed"
        got = res.get(n, "missing")
        rows[n]["all"] = got
        if got != want:
            mismatches.append((n, "all", want, got))

    for layer_set, nodeids in sorted(sets.items()):
        res = r.run(f"layers {layer_set}", layer_set, sorted(nodeids))
        for n in nodeids:
            got = res.get(n, "missing")
            rows[n]["own"] = got
            if got != "failed":
                mismatches.append((n, f"off={layer_set}", "failed", got))

    depth = {}
    if args.depth:
        for layer_set, nodeids in sorted(sets.items()):
            layers = layer_set.split(",")
            for keep in layers:
                off = ",".join(l for l in layers if l != keep)
                if not off:
                    continue
                res = r.run(f"depth: only {keep} of {layer_set} on", off, sorted(nodeids))
                for n in nodeids:
                    if res.get(n) == "passed":
                        depth.setdefault(n, []).append(keep)

    # ---- table
    w = max(len(n) for n in tests)
    print()
    print(f"{'test':<{w}}  {'baseline':<8}  {'all off':<8}  {'own set off':<11}  layers")
    print("-" * (w + 50))
    for n in sorted(tests, key=lambda n: (kind(tests[n]["name"]), n)):
        row = rows[n]
        exp_all = "failed" if kind(tests[n]["name"]) == "deny" else "passed"

        def cell(key, want):
            v = row.get(key)
            if v is None:
                return "-"
            return v if v == want else f"{v}!"
        layers = ",".join(tests[n]["layers"] or []) if kind(tests[n]["name"]) == "deny" else ""
        stands = ""
        if args.depth and "," in layers:
            stands = f"  [alone: {','.join(depth.get(n, [])) or 'none'}]"
        print(f"{n:<{w}}  {cell('baseline', 'passed'):<8}  {cell('all', exp_all):<8}  "
              f"{cell('own', 'failed'):<11}  {layers}{stands}")
    print()
    print(f"{len(tests)} tests ({len(deny)} deny, {len(sets)} layer sets); expectation: baseline passed, "
          "all-off: deny failed / allow+support passed, own-set-off: deny failed ('!' marks a mismatch)")
    if args.depth:
        print("[alone: L] = with every other layer of the set off, L still denies (defence in depth); "
              "'none' = only the whole set's interplay denies, or the others are absent on this kernel (apparmor)")
    if mismatches:
        print(f"\nMISMATCHES ({len(mismatches)}):")
        for n, run, want, got in mismatches:
            print(f"  {n}: {run}: expected {want}, got {got}")
        print(f"\n(junit files kept in {r.tmp})")
        return 1
    print("OK: every deny test depends on its layers")
    shutil.rmtree(r.tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
