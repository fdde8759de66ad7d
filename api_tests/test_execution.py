# SPDX-License-Identifier: Apache-2.0
"""codejail-service(7) "Execution semantics": as the codejail library has them (support
tests: they must pass with or without confinement)."""

import io
import json
import math
import re
import time
import zipfile

import pytest
import requests

from conftest import CODE_EXEC_PATH, HTTP_TIMEOUT, auth_headers, check_http_headers, library_limits, run_any, run_ok

def zero_div_emsg(service_python):
    """Upstream codejail's text on the interpreter the service runs: Python
    >= 3.9 prints the script path absolute, i.e. the random jail directory;
    Python >= 3.13 also marks the call under the exec line (3.11 and 3.12
    print no markers when they would underline the whole line); everything
    else, including "line 19" and the exec line, is byte for byte."""
    markers = "    ~~~~^^^^^^^^^^^^^^\\n" if service_python >= (3, 13) else ""
    return (
        "Couldn't execute jailed code: stdout: b'', stderr: b'Traceback (most recent call last):\\n"
        "  File \"/tmp/codejail-XXXXXXXX/jailed_code\", line 19, in <module>\\n    exec(code, g_dict)\\n"
        + markers +
        "  File \"<string>\", line 1, in <module>\\nZeroDivisionError: division by zero\\n' with status code: 1"
    )


JAIL_DIR_RE = re.compile(r"/tmp/codejail-[a-z0-9_]{8}/")


def normalize_jail_dir(text):
    return JAIL_DIR_RE.sub("/tmp/codejail-XXXXXXXX/", text)


def test_support_x_plus_one(client):
    r = client.exec({"code": "x = x + 1", "globals_dict": {"x": 16}})
    assert r.status_code == 200, r
    assert r.json() == {"globals_dict": {"x": 17}}


def test_support_globals_merge(client):
    code = "\n".join([
        "del gone",
        "x = x * 2",
        "new = [1, 'two', None, 3.5, True]",
        "tup = (1, 'y')",                      # tuple -> list
        "nested = {'k': [1, {'b': 'z'}]}",
        "import os",                           # module: dropped
        "f = open",                            # builtin function: dropped
        "s = {1, 2}",                          # set: dropped
        "c = 1 + 2j",                          # complex: dropped
        "class K: pass",                       # class: dropped
        "bad = [1, {2, 3}]",                   # fails json.dumps: dropped
    ])
    g = run_ok(client, code, {"x": 2, "gone": "still here", "keep": {"a": [1]}, "s": "input s"})
    assert g == {
        "x": 4,
        "gone": "still here",    # deleted by the code: keeps its input value
        "keep": {"a": [1]},
        "s": "input s",          # replaced by an unsafe value: dropped, so the input value stays
        "new": [1, "two", None, 3.5, True],
        "tup": [1, "y"],
        "nested": {"k": [1, {"b": "z"}]},
    }, g


def test_support_output_bytes_decoded(client):
    # codejail-service(7) "Execution semantics": json_safe decodes bytes as UTF-8 at any
    # depth (an item or entry that fails to decode is dropped).
    # NB: upstream's jailed_code jsonable() drops bytes.
    code = "raw = b'abc'\nnested = {'k': [b'x', {'b': b'z'}]}\nbad_bytes = b'\\xff\\xfe'"
    g = run_ok(client, code)
    assert g == {"raw": "abc", "nested": {"k": ["x", {"b": "z"}]}}, g


def test_support_builtins_dropped(client):
    # exec() adds __builtins__ to the globals; json_safe must drop it
    g = run_ok(client, "y = 1\nb = '__builtins__' in globals()")
    assert g == {"y": 1, "b": True}, g


def test_support_print_goes_to_sink(client):
    g = run_ok(client, "print('hello'); import sys; sys.stdout.write('more'); y = 2")
    assert g == {"y": 2}


def test_support_zero_division_exact_emsg(client, service_python):
    body = run_any(client, "1/0", {"x": 1})
    assert JAIL_DIR_RE.search(body.get("emsg", "")), body
    body["emsg"] = normalize_jail_dir(body["emsg"])
    assert body == {"globals_dict": {"x": 1}, "emsg": zero_div_emsg(service_python)}, body


def test_support_failure_returns_input_globals_unchanged(client):
    body = run_any(client, "x = 99\ny = 5\nraise ValueError('boom')", {"x": 1, "k": [1, 2]})
    assert body["globals_dict"] == {"x": 1, "k": [1, 2]}
    assert body["emsg"].startswith("Couldn't execute jailed code: stdout: b'', stderr: b'Traceback")
    assert "ValueError: boom" in body["emsg"]
    assert body["emsg"].endswith(" with status code: 1")


def test_support_exit_status_and_stderr_repr(client):
    # quotes, tab, CR, backslash, non-ASCII: Python repr() of the bytes
    code = r"""import sys
sys.stderr.write("it's\t\"q\"\r\\ \xe9")
sys.stderr.flush()
sys.exit(3)"""
    body = run_any(client, code)
    expected_err = repr("it's\t\"q\"\r\\ \xe9".encode())
    assert body["emsg"] == f"Couldn't execute jailed code: stdout: b'', stderr: {expected_err} with status code: 3"


def test_support_stderr_repr_double_quotes(client):
    body = run_any(client, "import sys; sys.stderr.write(\"it's\"); sys.exit(2)")
    assert body["emsg"] == "Couldn't execute jailed code: stdout: b'', stderr: b\"it's\" with status code: 2"


def test_support_corrupted_stdout(client):
    code = "import sys\nsys.__stdout__.write('garbage that is not json ')\nsys.__stdout__.flush()\ny = 1"
    body = run_any(client, code, {"x": 1})
    assert body == {"globals_dict": {"x": 1}, "emsg": "Sandboxed code produced corrupted stdout."}


def test_support_nan_infinity_roundtrip(client):
    text = '{"code": "y = z * 2\\nw = float(\'inf\')", "globals_dict": {"a": NaN, "b": Infinity, "c": -Infinity, "z": 1}}'
    r = client.exec(text)
    assert r.status_code == 200, r
    for token in ("NaN", "Infinity", "-Infinity"):
        assert token in r.text, r.text
    g = r.json()["globals_dict"]
    assert math.isnan(g["a"])
    assert g["b"] == math.inf and g["c"] == -math.inf
    assert g["y"] == 2 and g["w"] == math.inf


def test_support_nan_unchanged_on_failure(client):
    text = '{"code": "1/0", "globals_dict": {"a": NaN, "b": [Infinity, -Infinity]}}'
    r = client.exec(text)
    assert r.status_code == 200, r
    body = r.json()
    assert "emsg" in body
    assert math.isnan(body["globals_dict"]["a"])
    assert body["globals_dict"]["b"] == [math.inf, -math.inf]


def test_support_lone_surrogate_accepted(client):
    text = '{"code": "n = len(s)", "globals_dict": {"s": "\\ud800"}}'
    r = client.exec(text)
    assert r.status_code == 200, r
    g = r.json()["globals_dict"]
    assert g["n"] == 1
    assert g["s"] == "\ud800"


def test_support_nul_in_keys_roundtrip(client):
    # Python's json keeps "a\u0000b" and "a" apart; so must the service, in
    # and out (jansson's own copy cut keys at the NUL).
    text = '{"code": "k = sorted(globals_keys())\\nnew = {}\\nglobals()[\\"x\\\\u0000y\\"] = 3", ' \
           '"globals_dict": {"a\\u0000b": 1, "a": 2}}'
    r = client.exec(text.replace("globals_keys()", "k for k in globals() if k != '__builtins__'"))
    assert r.status_code == 200, r
    assert list(r.json()["globals_dict"].items()) == [
        ("a\0b", 1), ("a", 2), ("k", ["a", "a\0b"]), ("new", {}), ("x\0y", 3)], r.text


def test_support_unicode_roundtrip(client):
    g = run_ok(client, "t = s + '\u00e9\u4e2d\U0001F600'", {"s": "\u00e9"})
    assert g["t"] == "\u00e9\u00e9\u4e2d\U0001F600"


def test_support_numpy(client):
    g = run_ok(client, "import numpy as np\nr = float(np.arange(10).sum())\nm = np.linalg.det(np.eye(3)).item()")
    assert g == {"r": 45.0, "m": 1.0}


def test_support_matplotlib(client):
    code = "\n".join([
        "import matplotlib",
        "matplotlib.use('Agg')",
        "import matplotlib.pyplot as plt",
        "plt.plot([1, 2, 3], [3, 1, 2])",
        "plt.savefig('tmp/output.png')",
        "import os",
        "size = os.path.getsize('tmp/output.png')",
        "del os, plt, matplotlib",
    ])
    g = run_ok(client, code, **library_limits())
    assert g["size"] > 0


def test_support_networkx(client):
    g = run_ok(client, "import networkx as nx\ng = nx.path_graph(5)\nn = g.number_of_edges()\ndel g")
    assert g == {"n": 4}


def _lib_zip():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("cjtestmod.py", "VALUE = 42\ndef f(x):\n    return x * 3\n")
        z.writestr("cjtestpkg/__init__.py", "NAME = 'pkg'\n")
    return buf.getvalue()


def test_support_python_lib_zip(client):
    g = run_ok(client, "import cjtestmod, cjtestpkg\nv = cjtestmod.f(cjtestmod.VALUE)\nn = cjtestpkg.NAME",
               python_path=["python_lib.zip"], files={"python_lib.zip": _lib_zip()})
    assert g == {"v": 126, "n": "pkg"}


def test_support_python_lib_zip_without_python_path(client):
    # uploaded but not on sys.path: the import fails inside the sandbox
    body = run_any(client, "import cjtestmod", files={"python_lib.zip": _lib_zip()})
    # inside b'...' repr() escapes the quotes
    assert "ModuleNotFoundError: No module named \\'cjtestmod\\'" in body["emsg"], body


def test_support_jail_layout(client):
    code = "\n".join([
        "import os, sys",
        "cwd = os.getcwd()",
        "listing = sorted(os.listdir('.'))",
        "tmp_empty = os.listdir('tmp') == []",
        "argv = sys.argv",
        "env = dict(os.environ)",
        "del os, sys",
    ])
    g = run_ok(client, code)
    assert g["cwd"].startswith("/tmp/codejail-"), g
    assert len(g["cwd"]) == len("/tmp/codejail-") + 8, g
    assert "jailed_code" in g["listing"] and "tmp" in g["listing"], g
    assert g["tmp_empty"] is True
    assert g["argv"] == ["jailed_code"]


def test_support_jail_modes(client):
    # codejail-service(7) "Differences from upstream": the jail dir 0755 (the service's),
    # tmp/ a tmpfs of the execution's own, 0700 -- upstream 0775 and 0777
    g = run_ok(client, "\n".join([
        "import os, stat",
        "d, t = os.stat('.'), os.stat('tmp')",
        "modes = [oct(stat.S_IMODE(d.st_mode)), oct(stat.S_IMODE(t.st_mode))]",
        "tmp_mine = t.st_uid == os.getuid()",
        "del os, stat, d, t",
    ]))
    assert g == {"modes": ["0o755", "0o700"], "tmp_mine": True}, g


def test_support_environment_exact(client):
    # codejail-service(7) "Execution semantics": exactly these four; the service runs with CJS_TEST_ENV_LEAKAGE=yes (runner)
    g = run_ok(client, "import os\nenv = dict(os.environ)\ndel os")
    assert g["env"] == {"PATH": "/usr/bin:/bin", "TMPDIR": "tmp", "HOME": "tmp", "LANG": "C.UTF-8"}, g["env"]


def test_support_wallclock_kill_exact(client):
    t0 = time.monotonic()
    body = run_any(client, "import time; time.sleep(30)", {"x": 1})
    elapsed = time.monotonic() - t0
    assert body == {"globals_dict": {"x": 1},
                    "emsg": "Couldn't execute jailed code: stdout: b'', stderr: b'' with status code: -9"}, body
    assert elapsed < 15, elapsed


def test_support_sigterm_handlers_do_not_delay_kill(client):
    code = "\n".join([
        "import signal, time",
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)",
        "signal.signal(signal.SIGINT, signal.SIG_IGN)",
        "signal.signal(signal.SIGHUP, signal.SIG_IGN)",
        "time.sleep(30)",
    ])
    t0 = time.monotonic()
    body = run_any(client, code)
    elapsed = time.monotonic() - t0
    assert body["emsg"] == "Couldn't execute jailed code: stdout: b'', stderr: b'' with status code: -9"
    assert elapsed < 5 + 5, f"REALTIME is 5 s; took {elapsed:.1f} s"


def test_support_stdout_before_kill_is_reported(client):
    body = run_any(client, "import sys, time\nsys.__stdout__.write('partial')\nsys.__stdout__.flush()\ntime.sleep(30)")
    assert body["emsg"] == "Couldn't execute jailed code: stdout: b'partial', stderr: b'' with status code: -9"


def test_support_abort_signal_status(client):
    # os.abort() -> SIGABRT -> -6 (would be -11 if Python were the namespace init, NOTES)
    body = run_any(client, "import os; os.abort()")
    assert body["emsg"].endswith(" with status code: -6"), body


@pytest.mark.http
def test_support_urlencoded_body(http_base):
    payload = json.dumps({"code": "x = x + 1", "globals_dict": {"x": 1}})
    r = requests.post(http_base + CODE_EXEC_PATH, data={"payload": payload}, headers=auth_headers(),
                      timeout=HTTP_TIMEOUT)
    assert r.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    check_http_headers(r)
    assert r.status_code == 200 and r.json() == {"globals_dict": {"x": 2}}, r.text


@pytest.mark.http
def test_support_multipart_body_without_files(http_base):
    payload = json.dumps({"code": "x = x + 1", "globals_dict": {"x": 1}})
    r = requests.post(http_base + CODE_EXEC_PATH, files={"payload": (None, payload)}, headers=auth_headers(),
                      timeout=HTTP_TIMEOUT)
    assert r.request.headers["Content-Type"].startswith("multipart/form-data")
    check_http_headers(r)
    assert r.status_code == 200 and r.json() == {"globals_dict": {"x": 2}}, r.text


@pytest.mark.http
def test_support_multipart_duplicate_file_last_wins(http_base):
    def z(v):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("dupmod.py", f"V = {v}\n")
        return buf.getvalue()
    payload = json.dumps({"code": "import dupmod\nv = dupmod.V", "globals_dict": {}, "python_path": ["python_lib.zip"]})
    files = [("payload", (None, payload)), ("python_lib.zip", ("python_lib.zip", z(1))),
             ("python_lib.zip", ("python_lib.zip", z(2)))]
    r = requests.post(http_base + CODE_EXEC_PATH, files=files, headers=auth_headers(), timeout=HTTP_TIMEOUT)
    check_http_headers(r)
    assert r.status_code == 200 and r.json() == {"globals_dict": {"v": 2}}, r.text
