#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The platform's darklaunch comparison, replayed: every payload the api_tests
sent, through an upstream-equivalent local execution (tests/upstream/upstream_exec.py: the
codejail library as a local-codejail LMS runs it) and through this service,
compared as edx-platform compares them.

    compare.py --corpus api-corpus.jsonl --codejaild PATH --upstream-config FILE.yml
               [--converter PATH] [--jobs N]

Both sides get the operator's configuration: the upstream side reads the
YAML as codejail does, the service the codejail.json codejail-convert-config
made from it.

What edx-platform's report_darklaunch_results() does, re-implemented here
from its documented behaviour (platform_normalize(), darklaunch()): an
arm that fails other than with an emsg (the service answering non-2xx, a
local exception that is not SafeExecException) is an "unexpected error" and
the two are not compared; otherwise globals_match is `globals_local ==
globals_remote` and emsg_match compares the two emsgs after the
normalisation. Each mismatch is classified: EXPECTED names the tests whose
payloads differ and why (README "Differences from upstream"); anything
else is unexpected and fails the run, and so does an expected difference
that no longer occurs.

Payloads from test_confinement.py are not replayed: they probe the
sandbox's boundary, which upstream draws with AppArmor, absent from this
kernel (the stand-in covers only its file writes and exec); those tests
assert upstream's answers one by one.
"""

import argparse
import base64
import concurrent.futures
import contextlib
import copy
import json
import os
import re
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "upstream"))
import upstream_exec  # noqa: E402

try:
    import yaml
except ImportError:
    yaml = None

CODEJAIL_DEFAULTS = {"CPU": 1, "REALTIME": 1, "VMEM": 0, "FSIZE": 0, "NPROC": 15}
NOT_REPLAYED = {"test_confinement.py": "probes of the sandbox's boundary: upstream's is AppArmor, absent here"}

# test (api_tests node id, parameters stripped) -> why its payload differs.
EXPECTED = {
    "test_execution.py::test_support_environment_exact":
        "environment: exactly four variables here; upstream, TMPDIR=tmp and what sudo sets (HOME, USER, ...)",
    "test_execution.py::test_support_jail_layout":
        "environment: exactly four variables here; upstream, TMPDIR=tmp and what sudo sets (HOME, USER, ...)",
    "test_write_errno.py::test_deny_write":
        "errno: the rows of README \"Writes outside tmp/: upstream's errno and ours\" where ours differs",
    "test_execution.py::test_support_jail_modes":
        "modes: the jail dir 0755 and tmp/ 0700, the execution's own, here; upstream 0775 and 0777",
    "test_limits.py::test_deny_tmp_quota": "TMPFS: tmp/ holds 16 MiB here; upstream, the host's disk",
    "test_limits.py::test_support_output_limit": "OUTPUT: 4 MiB per stream here, then the kill; upstream keeps all",
}


def platform_normalize(emsg):
    """edx-platform's darklaunch emsg normalisation (safe_exec.py's default
    CODEJAIL_DARKLAUNCH_EMSG_NORMALIZERS), re-implemented from its
    description and applied in its order: the sandbox directory's random
    name; jailed_code's absolute path (Python >= 3.9 prints it) to the bare
    name; python3.NN in paths; line numbers in frames; lines of only ^
    markers; <listcomp> frames. The emsg holds repr()s of the output, so a
    line break is the two characters \\n. The <listcomp> rule looks for a
    frame with a line number, which the line-number rule before it has
    already replaced: as in the platform, it no longer matches."""
    if emsg is None:
        return None
    emsg = re.sub(r"/tmp/codejail-[0-9A-Za-z_]+", "/tmp/codejail-<SANDBOX_DIR_NAME>", emsg)
    emsg = emsg.replace('File "/tmp/codejail-<SANDBOX_DIR_NAME>/jailed_code"', 'File "jailed_code"')
    emsg = re.sub(r"python3\.[0-9]+", "python3.XX", emsg)
    emsg = re.sub(r", line [0-9]+, in ", ", line XXX, in ", emsg)
    emsg = re.sub(r"\\n\s*\^+\s*\\n", r"\\n", emsg)
    emsg = re.sub(r'\\n  File "[^"]+", line [0-9]+, in <listcomp>\\n', r"\\n", emsg)
    return emsg


def test_of(rec):
    """The recorded test's file::name, parameters stripped."""
    return re.sub(r"\[.*\]$", "", rec["test"].rsplit("/", 1)[-1])


def upstream_limits(cj, context):
    lim = dict(CODEJAIL_DEFAULTS)
    lim.update({k: v for k, v in (cj.get("limits") or {}).items() if k in CODEJAIL_DEFAULTS})
    if context:
        lim.update({k: v for k, v in (cj.get("limit_overrides") or {}).get(context, {}).items()
                    if k in CODEJAIL_DEFAULTS})
    return lim


class Slots:
    """One sandbox UID per concurrent run (upstream shares one user: two runs
    at once would share its NPROC pool, which a replay must not measure)."""

    def __init__(self, n, base):
        self.free, self.lock = list(range(base, base + n)), threading.Lock()

    @contextlib.contextmanager
    def uid(self):
        with self.lock:
            uid = self.free.pop()
        try:
            yield uid
        finally:
            with self.lock:
                self.free.append(uid)


def run_service(codejaild, config, rec, workdir):
    """(status, body) as the LMS sees the service's answer."""
    with tempfile.TemporaryDirectory(dir=workdir) as d:
        pfile = os.path.join(d, "payload.json")
        with open(pfile, "w", encoding="utf-8", errors="surrogatepass") as f:
            f.write(rec["payload"])
        argv = [codejaild, "--config", config, "--exec", pfile]
        for i, (name, data) in enumerate(rec["files"].items()):
            path = os.path.join(d, f"upload{i}")
            with open(path, "wb") as f:
                f.write(base64.b64decode(data))
            argv += ["--file", f"{name}={path}"]
        p = subprocess.run(argv, capture_output=True, timeout=120)
    status = {0: 200, 4: 400, 5: 500}.get(p.returncode, 599)
    try:
        return status, json.loads(p.stdout.decode("utf-8", "surrogateescape"))
    except ValueError:
        return 599, None


def darklaunch(rec, cj, python_bin, codejaild, config, slots, owner, workdir):
    """One payload, both arms, compared as the platform compares them."""
    payload = json.loads(rec["payload"])
    ctx = payload.get("limit_overrides_context")
    files = [(k, base64.b64decode(v)) for k, v in rec["files"].items()]

    globals_local = copy.deepcopy(payload["globals_dict"])
    emsg_local = unexpected_local = None
    with slots.uid() as uid:
        try:
            upstream_exec.safe_exec(payload["code"], globals_local, payload.get("python_path") or [], files,
                                    upstream_limits(cj, ctx), python_bin, uid, owner)
        except upstream_exec.SafeExecException as e:
            emsg_local = str(e)
        except Exception as e:  # noqa: BLE001 -- the platform's "unexpected error" arm
            unexpected_local = repr(e)

    status, body = run_service(codejaild, config, rec, workdir)
    globals_remote = copy.deepcopy(payload["globals_dict"])
    emsg_remote = unexpected_remote = None
    if status != 200 or not isinstance(body, dict):
        unexpected_remote = f"HTTP {status}"
    else:
        globals_remote.update(body.get("globals_dict") or {})
        emsg_remote = body.get("emsg")

    if unexpected_local or unexpected_remote:
        return "N/A", f"local {unexpected_local or 'ok'}, remote {unexpected_remote or 'ok'}"
    globals_match = globals_local == globals_remote
    emsg_match = platform_normalize(emsg_local) == platform_normalize(emsg_remote)
    if globals_match and emsg_match:
        return "match", ""
    return "mismatch", (f"globals_match={globals_match} emsg_match={emsg_match}\n"
                        f"    local:  {globals_local!r:.300} {platform_normalize(emsg_local)!r:.600}\n"
                        f"    remote: {globals_remote!r:.300} {platform_normalize(emsg_remote)!r:.600}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--codejaild", required=True)
    ap.add_argument("--upstream-config", required=True)
    ap.add_argument("--converter", required=True)
    ap.add_argument("--jobs", type=int, default=4)
    a = ap.parse_args()

    cj = yaml.safe_load(open(a.upstream_config))["CODE_JAIL"]
    work = tempfile.mkdtemp(prefix="cj-darklaunch-")
    os.chmod(work, 0o755)
    conv = subprocess.run([a.converter, a.upstream_config], capture_output=True, text=True)
    if conv.returncode != 0:
        sys.exit(f"darklaunch: codejail-convert-config refused {a.upstream_config}:\n{conv.stderr}")
    config = os.path.join(work, "codejail.json")
    with open(config, "w") as f:
        json.dump({**json.loads(conv.stdout), "enabled": True, "state_dir": os.path.join(work, "state"),
                   "health_max_age_s": 86400}, f)
    sc = subprocess.run([a.codejaild, "--config", config, "--selfcheck"], capture_output=True, text=True)
    if sc.returncode != 0:
        sys.exit(f"darklaunch: the service's selfcheck failed:\n{sc.stdout[-2000:]}")

    records, skipped = [], {}
    with open(a.corpus, encoding="utf-8", errors="surrogatepass") as f:
        for line in f:
            rec = json.loads(line)
            if "payload" not in rec:
                sys.exit("darklaunch: the corpus has no requests (recorded before API_TEST_RECORD kept them)")
            test_file = rec["test"].split("::")[0].rsplit("/", 1)[-1]
            if test_file in NOT_REPLAYED:
                skipped[NOT_REPLAYED[test_file]] = skipped.get(NOT_REPLAYED[test_file], 0) + 1
            else:
                records.append(rec)
    slots = Slots(a.jobs, 900_000_000 + (os.getpid() % 10_000) * 10)
    owner = 899_000_000
    results, retried = [], 0
    with concurrent.futures.ThreadPoolExecutor(a.jobs) as pool:
        futs = [pool.submit(darklaunch, r, cj, cj["python_bin"], a.codejaild, config, slots, owner, work)
                for r in records]
        for rec, fut in zip(records, futs):
            results.append((rec, *fut.result()))
    # A mismatch is run again alone before it counts: on a loaded host one arm
    # can meet REALTIME where the other did not, which says nothing of either.
    for i, (rec, verdict, _detail) in enumerate(results):
        if verdict == "mismatch" and test_of(rec) not in EXPECTED:
            retried += 1
            results[i] = (rec, *darklaunch(rec, cj, cj["python_bin"], a.codejaild, config, slots, owner, work))
    subprocess.run(["rm", "-rf", work])

    counts = {"match": 0, "N/A": 0, "mismatch": 0}
    expected_seen, unexpected = {}, []
    for rec, verdict, detail in results:
        counts[verdict] += 1
        test = test_of(rec)
        if verdict == "mismatch":
            if test in EXPECTED:
                expected_seen[test] = expected_seen.get(test, 0) + 1
            else:
                unexpected.append(f"UNEXPECTED {rec['test']}: {rec['code'][:80]!r}\n    {detail}")
        elif verdict == "N/A":
            print(f"N/A  {rec['test']}: {detail}")
    stale = [t for t in EXPECTED if t not in expected_seen and any(test_of(r) == t for r in records)]
    for t, n in sorted(expected_seen.items()):
        print(f"expected  {t} ({n}): {EXPECTED[t]}")
    for t in stale:
        print(f"STALE     {t}: listed as differing, but its payloads now match ({EXPECTED[t]})")
    for u in unexpected:
        print(u)
    print(f"darklaunch: {len(records) + sum(skipped.values())} recorded payloads; not replayed: "
          + (", ".join(f"{n} ({why})" for why, n in skipped.items()) or "none")
          + f"; replayed {len(records)}: {counts['match']} match, {counts['N/A']} not comparable (an arm failed "
            f"unexpectedly: the platform reports N/A), {sum(expected_seen.values())} expected differences, "
            f"{len(unexpected)} unexpected ({retried} unlisted mismatches run again alone); {len(stale)} stale expectations")
    return 1 if unexpected or stale else 0


if __name__ == "__main__":
    sys.exit(main())
