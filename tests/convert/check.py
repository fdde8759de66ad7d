#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""codejail-convert-config, data-driven (tests/data/convert), then each
converted configuration run through the real jail.

    check.py --tool PATH --data DIR [--codejaild PATH]

Conversion (no privilege needed): each case directory holds input.yml or
input.json, optional args (extra command-line words) and notes (substrings
stderr must hold, one a line), and expected.json, the exact output;
refused/ holds inputs that must be refused (exit 1, nothing on stdout),
each with the substring its refusal must name (refused/expected.txt). Then
--output: mode 0600, an existing file kept unless --force.

Running (--codejaild, root): each converted configuration passes the
selfcheck and runs code; inside the jail each rlimit is what the limits
say -- a 0 of CPU, VMEM, NPROC leaves the rlimit unset (the jail keeps its
parent's, this process's), FSIZE 0 sets 0 -- in every limits context; and
the behaviour behind each value: FSIZE 0 refuses the first byte, VMEM 0
allows 600 MiB where 512 MiB refuses it, NPROC 0 allows 20 processes where
15 refuses them, REALTIME 0 lets a 2 s sleep finish where 1 kills it.
"""

import argparse
import json
import os
import resource
import shlex
import subprocess
import sys
import tempfile

FAILED = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILED.append(what)


def convert(tool, path, extra=(), **kw):
    return subprocess.run([tool, *extra, path], capture_output=True, text=True, **kw)


def cases(data):
    for name in sorted(os.listdir(data)):
        d = os.path.join(data, name)
        if name == "refused" or not os.path.isdir(d):
            continue
        inp = next(os.path.join(d, f) for f in ("input.yml", "input.json") if os.path.exists(os.path.join(d, f)))
        args = shlex.split(open(os.path.join(d, "args")).read()) if os.path.exists(os.path.join(d, "args")) else []
        notes = []
        if os.path.exists(os.path.join(d, "notes")):
            notes = [n for n in open(os.path.join(d, "notes")).read().splitlines() if n]
        yield name, inp, args, notes, json.load(open(os.path.join(d, "expected.json")))


def conversions(tool, data):
    converted = {}
    for name, inp, args, notes, want in cases(data):
        p = convert(tool, inp, args)
        got = None
        try:
            got = json.loads(p.stdout)
        except ValueError:
            pass
        check(p.returncode == 0 and got == want, f"convert {name}: exit {p.returncode}, output as expected.json"
              + ("" if got == want else f" (got {p.stdout!r}; stderr {p.stderr[-600:]!r})"))
        for n in notes:
            check(n in p.stderr, f"convert {name}: stderr names {n!r}")
        converted[name] = want
    refused = os.path.join(data, "refused")
    expect = {}
    for line in open(os.path.join(refused, "expected.txt")):
        if line.strip() and not line.startswith("#"):
            f, _, sub = line.partition(": ")
            expect[f] = sub.rstrip("\n")
    for f in sorted(os.listdir(refused)):
        if f == "expected.txt":
            continue
        p = convert(tool, os.path.join(refused, f))
        sub = expect.get(f)
        check(sub is not None and p.returncode == 1 and p.stdout == "" and sub in p.stderr,
              f"refuse {f}: exit {p.returncode}, names {sub!r}" + ("" if sub and sub in p.stderr
                                                                   else f" (stderr {p.stderr[-600:]!r})"))
    # --output: 0600, never over an existing file without --force
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "codejail.json")
        src = os.path.join(data, "zero", "input.yml")
        p1 = convert(tool, src, ["-o", out])
        mode = os.stat(out).st_mode & 0o777 if os.path.exists(out) else None
        p2 = convert(tool, src, ["-o", out])
        p3 = convert(tool, src, ["-o", out, "--force"])
        check(p1.returncode == 0 and mode == 0o600 and p2.returncode == 2 and p3.returncode == 0
              and json.load(open(out)) == converted["zero"] and sorted(os.listdir(d)) == ["codejail.json"],
              f"--output: written 0600 ({mode and oct(mode)}), kept without --force (exit {p2.returncode}), "
              f"replaced with it (exit {p3.returncode}), no temporary file left")
    # CODEJAIL_SERVICE_CFG names the input as upstream does
    p = subprocess.run([tool], capture_output=True, text=True,
                       env={**os.environ, "CODEJAIL_SERVICE_CFG": os.path.join(data, "zero", "input.yml")})
    check(p.returncode == 0 and json.loads(p.stdout or "null") == converted["zero"],
          "input from $CODEJAIL_SERVICE_CFG")
    return converted


RLIMITS_PROBE = """
import resource
r = {n: list(resource.getrlimit(getattr(resource, 'RLIMIT_' + n))) for n in ('CPU', 'AS', 'FSIZE', 'NPROC')}
del resource
"""

BEHAVIOUR = {
    "fsize": """
try:
    with open('tmp/f', 'wb') as f:
        f.write(b'x')
    r = 'ok'
except OSError as e:
    r = e.errno
""",
    "vmem": """
try:
    r = len(bytearray(600 << 20))
except MemoryError:
    r = 'MemoryError'
""",
    "nproc": """
import os
def _f():
    kids = []
    try:
        for i in range(20):
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            kids.append(pid)
        return len(kids)
    except OSError as e:
        return e.errno
    finally:
        for p in kids:
            os.waitpid(p, 0)
r = _f()
del os, _f
""",
    "realtime": "import time\ntime.sleep(2)\nr = 'slept'\ndel time\n",
}


def run_code(codejaild, config, code, context=None):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"code": code, "globals_dict": {}, "limit_overrides_context": context}, f)
    try:
        p = subprocess.run([codejaild, "--config", config, "--exec", f.name], capture_output=True, timeout=60)
    finally:
        os.unlink(f.name)
    return p.returncode, json.loads(p.stdout or b"null")


def effective(cfg, context):
    lim = dict(cfg["limits"])
    lim.update(cfg.get("limit_overrides", {}).get(context, {}) if context else {})
    return lim


def runs(codejaild, converted):
    mine = {n: list(resource.getrlimit(getattr(resource, "RLIMIT_" + n))) for n in ("CPU", "AS", "NPROC")}
    for name, cfg in converted.items():
        with tempfile.TemporaryDirectory(prefix="cj-convert-") as d:
            os.chmod(d, 0o755)
            state = os.path.join(d, "state")
            config = os.path.join(d, "codejail.json")
            json.dump({**cfg, "enabled": True, "state_dir": state, "health_max_age_s": 86400}, open(config, "w"))
            sc = subprocess.run([codejaild, "--config", config, "--selfcheck"], capture_output=True, text=True)
            check(sc.returncode == 0, f"run {name}: selfcheck passes" + ("" if sc.returncode == 0
                                                                         else f" ({sc.stdout[-800:]})"))
            rc, body = run_code(codejaild, config, "x = 16\nx = x + 1")
            check(rc == 0 and body == {"globals_dict": {"x": 17}}, f"run {name}: x = x + 1 gives 17 ({body})")
            for ctx in [None] + sorted(cfg.get("limit_overrides", {})):
                lim = effective(cfg, ctx)
                want = {
                    "CPU": [lim["CPU"], lim["CPU"] + 1] if lim["CPU"] else mine["CPU"],
                    "AS": [lim["VMEM"], lim["VMEM"]] if lim["VMEM"] else mine["AS"],
                    "FSIZE": [lim["FSIZE"], lim["FSIZE"]],
                    "NPROC": [lim["NPROC"], lim["NPROC"]] if lim["NPROC"] else mine["NPROC"],
                }
                rc, body = run_code(codejaild, config, RLIMITS_PROBE, ctx)
                got = (body or {}).get("globals_dict", {}).get("r")
                check(got == want, f"run {name} [{ctx or 'limits'}]: rlimits {got} (want {want})")
                b = {}
                if lim["FSIZE"] == 0:
                    b["fsize"] = 27
                if lim["VMEM"] in (0, 512 << 20):
                    b["vmem"] = 600 << 20 if lim["VMEM"] == 0 else "MemoryError"
                if lim["NPROC"] in (0, 15):
                    b["nproc"] = 20 if lim["NPROC"] == 0 else 11
                if lim["REALTIME"] in (0, 1):
                    b["realtime"] = "slept" if lim["REALTIME"] == 0 else -9
                for what, expect in b.items():
                    rc, body = run_code(codejaild, config, BEHAVIOUR[what], ctx)
                    if expect == -9:
                        got = -9 if "status code: -9" in (body or {}).get("emsg", "") else body
                    else:
                        got = (body or {}).get("globals_dict", {}).get("r", body)
                    check(got == expect, f"run {name} [{ctx or 'limits'}]: {what}: {got} (want {expect})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--codejaild")
    a = ap.parse_args()
    converted = conversions(a.tool, a.data)
    if a.codejaild:
        runs(a.codejaild, converted)
    print(f"convert-suite: {len(FAILED)} failed")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
