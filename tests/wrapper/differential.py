#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Differential test of the jailed wrapper: its fast path --
json's C accelerator driven directly, without importing json -- must write
exactly what the json module path writes, byte for byte, exit status and
stderr included, on the interpreter it runs under.

    differential.py --wrapper FILE [--python PATH] [--chroot DIR] [--corpus FILE.jsonl]...

The reference is the same wrapper with its `_FAST = ...` line replaced by
`_FAST = False` (one line for one line: tracebacks keep their numbers).
Each case runs bare, as the jail runs it (`python -E -B jailed_code`, the
jail's environment, stdin = json.dumps([code, globals])), through both.
Cases: a generated corpus (nested containers, NaN/+-Infinity, huge ints,
lone surrogates, non-str keys of every JSON-coercible type, tuples, bytes,
cycles, deep nesting, unserializable values, exceptions) plus recorded
api_tests payloads (--corpus, one {"code":..., "globals_dict":...} a line,
written by API_TEST_RECORD=FILE).

Fails when any output differs, or when the fast path is not taken on this
interpreter (a comparison of the fallback with itself proves nothing).
"""

import argparse
import concurrent.futures
import itertools
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading

# chroot(8) is in sbin, which the jail's PATH (ENV) does not hold
CHROOT = shutil.which("chroot") or "/usr/sbin/chroot"
ENV = {"PATH": "/usr/bin:/bin", "TMPDIR": "tmp", "HOME": "tmp", "LANG": "C.UTF-8"}


def generated():
    c = []
    add = lambda code, g=None: c.append({"code": code, "globals_dict": g if g is not None else {}})  # noqa: E731
    add("x = x + 1", {"x": 16})
    add("pass", {"a": [1, 2.5, "s", None, True, False, {"k": []}], "b": {"c": {"d": [[[]]]}}})
    add("y = [v * 2 for v in x]", {"x": [1.5, -0.0, 1e16, 1e-7, 5e-324, 1.7976931348623157e308, 0.1]})
    add("n = [float('nan'), float('inf'), float('-inf')]\nm = {'k': float('nan')}")
    c.append({"code": "z = [a, b, c]", "globals_dict": {"a": float("nan"), "b": float("inf"), "c": float("-inf")}})
    add("big = [10 ** 4299, -2 ** 64, 2 ** 63]\nhuge = 10 ** 4300\nneg = -(10 ** 4300)")
    add("s = ['\\ud800', 'a\\udfffb', '\\U0001F600', '\\x00', '\\u00e9']")
    c.append({"code": "t = s + 'x'", "globals_dict": {"s": "\ud800\udc00\udbff"}})
    add("k = {1: 'int', 2.5: 'float', True: 'bool', None: 'none', -0.0: 'z', float('nan'): 'nan', "
        "float('inf'): 'inf', 10 ** 30: 'bigint'}")
    add("k2 = {b'bytes-key': 1, (1, 2): 'tuple-key'}\nk3 = {'ok': {b'\\xff': 1, 'inner': b'\\xfe'}}")
    add("t = (1, (2, b'x'), [b'y', (b'\\xff', 3)])\nu = ()")
    add("b = b'abc'\nbad = b'\\xff\\xfe'\nsur = b'\\xed\\xa0\\x80'\nmixed = [b'ok', b'\\xff', {'k': b'v'}]")
    add("import sys\nst = set([1])\no = object()\nf = lambda: 1\nm = sys\nz = 1j\nba = bytearray(b'x')\n"
        "r = range(3)\nimport decimal\nd = decimal.Decimal('1.5')\nkeep = 'kept'")
    add("a = []\na.append(a)\nd = {}\nd['self'] = d\nt = ([],)\nt[0].append(t)\nok = [1]")
    for n in (50, 99, 100, 101, 200, 400, 800, 960, 980, 990, 995, 1000, 1100, 3000):
        add(f"x = []\nfor _ in range({n}):\n    x = [x]")
        add(f"d = {{}}\nfor _ in range({n}):\n    d = {{'k': d}}\nl = [[1]]")
        add(f"x = b'leaf'\nfor _ in range({n}):\n    x = [x, b'\\xff']")
    deep = []
    for _ in range(500):
        deep = [deep]
    c.append({"code": "n = 1", "globals_dict": {"deep": deep}})
    add("big = list(range(100000))\ns = 'x' * 1000000")
    add("print('to the sink')\nimport sys\nsys.stderr.write('err\\n')\nv = 1")
    add("1/0", {"x": 1})
    add("raise SystemExit(3)")
    add("import os\nos._exit(7)")
    add("raise KeyboardInterrupt")
    add("import json\nj = json.dumps({'a': [1, 2]})\nok = 'json' in __import__('sys').modules")
    add("del x", {"x": 1, "y": 2})
    add("__builtins__ = 5\nw = 1")
    add("import sys\nsys.stdout.write('x')\nsys.__stdout__.write('corrupt')")
    add("class C(dict):\n    pass\ncd = C(a=1)\nclass L(list):\n    pass\ncl = L([1])\nclass S(str):\n    pass\ncs = S('s')")
    add("class F(float):\n    def __repr__(self):\n        return 'F'\nff = F(1.5)\nclass I(int):\n    pass\nii = I(3)")
    add("e = {'': 0, ' ': [], '\\n': {}, '\"': '\\\\'}")
    return c


def confine():
    """The cases run bare (no jail): the recorded api_tests payloads include
    fork bombs, memory hogs and endless loops. Their own session, the jail's
    kind of limits, and nobody's uid when we are root (NPROC binds only
    then). The caller keeps the network away (wrapper-differential.sh runs
    this in a loopback-only namespace)."""
    os.setsid()
    for lim, v in ((resource.RLIMIT_CPU, 4), (resource.RLIMIT_AS, 2 << 30), (resource.RLIMIT_NPROC, 64),
                   (resource.RLIMIT_FSIZE, 16 << 20), (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(lim, (v, v))
    if os.getuid() == 0:
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)


def run(python, chroot, workdir, text, stdin):
    # One file name for both wrappers: tracebacks name the script's path;
    # a fresh tmp/ for every run, as the jail's (matplotlib keeps its font
    # cache there, a socket bound there stays).
    with open(os.path.join(workdir, "jailed_code"), "w") as f:
        f.write(text)
    shutil.rmtree(os.path.join(workdir, "tmp"), ignore_errors=True)
    os.mkdir(os.path.join(workdir, "tmp"))
    os.chmod(os.path.join(workdir, "tmp"), 0o777)
    argv = [python, "-E", "-B", "jailed_code"]
    if chroot:
        argv = [CHROOT, chroot, "sh", "-c", 'cd "$0" && exec "$@"', "/" + os.path.relpath(workdir, chroot)] + argv
        cwd, pre = None, os.setsid  # chroot(8) needs root; the build root is a throw-away tree
    else:
        cwd, pre = workdir, confine
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd,
                         env=ENV, preexec_fn=pre)
    try:
        out, err = p.communicate(stdin, timeout=8)  # the wall-clock tests sleep past REALTIME
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        return ("timeout",)
    finally:
        try:
            os.killpg(p.pid, signal.SIGKILL)  # whatever it left behind
        except ProcessLookupError:
            pass
    return p.returncode, out, err


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wrapper", required=True)
    ap.add_argument("--python", default="/usr/bin/python3")
    ap.add_argument("--chroot", help="run the interpreter inside this root (another release's Python)")
    ap.add_argument("--corpus", action="append", default=[])
    args = ap.parse_args()

    fast = open(args.wrapper).read()
    lines = fast.split("\n")
    gate = [i for i, l in enumerate(lines) if l.startswith("_FAST = ")]
    if len(gate) != 1:
        sys.exit(f"differential: expected one '_FAST = ' line in {args.wrapper}, found {len(gate)}")
    lines[gate[0]] = "_FAST = False"
    reference = "\n".join(lines)

    base = tempfile.mkdtemp(prefix="cj-wrapdiff-", dir=os.path.join(args.chroot, "tmp") if args.chroot else None)
    os.chmod(base, 0o755)

    def workdir(n):
        work = os.path.join(base, f"jail{n}")
        os.makedirs(os.path.join(work, "tmp"))
        os.chmod(work, 0o777)  # nobody runs here (and writes only in tmp/)
        return work

    try:
        # The fast path must really be taken here, or nothing is compared.
        work = workdir(0)
        probe = json.dumps(["m = sorted(k for k in __import__('sys').modules if k == 'json' or k.startswith('json.'))", {}])
        _, out_fast, _ = run(args.python, args.chroot, work, fast, probe.encode())
        _, out_ref, _ = run(args.python, args.chroot, work, reference, probe.encode())
        version = run(args.python, args.chroot, work, fast,
                      json.dumps(["v = '%d.%d' % __import__('sys').version_info[:2]", {}]).encode())[1]
        if json.loads(out_fast).get("m") != [] or not json.loads(out_ref).get("m"):
            sys.exit(f"differential: the fast path is not taken under {args.python} ({version!r}): "
                     f"json modules loaded fast={out_fast!r} reference={out_ref!r}")

        cases = generated()
        for path in args.corpus:
            with open(path) as f:
                cases += [json.loads(l) for l in f if l.strip()]

        def compare(i, work):
            """'same', 'unstable' or a report: both paths of one case in one
            directory (tracebacks name it); rerun both when they differ."""
            case = cases[i]
            stdin = json.dumps([case["code"], case["globals_dict"]]).encode()
            a = run(args.python, args.chroot, work, fast, stdin)
            b = run(args.python, args.chroot, work, reference, stdin)
            if a == b:
                return "same"
            if a != run(args.python, args.chroot, work, fast, stdin) or \
                    b != run(args.python, args.chroot, work, reference, stdin):
                return "unstable"  # differs from itself (pids, timing): proves nothing either way
            return (f"DIFFER case {i}: {case['code'][:80]!r}\n  fast: {str(a)[:400]}\n  json: {str(b)[:400]}")

        # Four at a time (the slow cases sleep), each worker its own directory.
        works = [workdir(n) for n in range(1, 5)]
        differ = unstable = 0
        with concurrent.futures.ThreadPoolExecutor(len(works)) as pool:
            futures = {}
            for i in range(len(cases)):
                futures[i] = pool.submit(lambda i=i: compare(i, works[threading_slot()]))
            for i, f in futures.items():
                r = f.result()
                if r == "unstable":
                    unstable += 1
                    print(f"UNSTABLE case {i}: {cases[i]['code'][:80]!r} (a path differs from itself)")
                elif r != "same":
                    differ += 1
                    print(r)
        print(f"differential ({json.loads(version)['v'] if version else '?'}, {args.python}"
              f"{' in ' + args.chroot if args.chroot else ''}): {len(cases)} cases, {differ} differ, "
              f"{unstable} unstable (not compared)")
        # A corpus that is mostly unstable would prove nothing.
        sys.exit(1 if differ or unstable > len(cases) // 10 else 0)
    finally:
        shutil.rmtree(base, ignore_errors=True)


_slot_numbers = itertools.count()
_slot = threading.local()


def threading_slot():
    """A stable small number per worker thread (its directory)."""
    if not hasattr(_slot, "n"):
        _slot.n = next(_slot_numbers)  # next() of a count is atomic under the GIL
    return _slot.n


if __name__ == "__main__":
    main()
