# SPDX-License-Identifier: Apache-2.0
"""Transports and shared fixtures for the codejail-service black-box suite.

Two transports run the same test bodies:

* HTTP  - API_TEST_SERVICE_BASE=http://127.0.0.1:8080 ; POST BASE/api/v0/code-exec
          with form field ``payload`` (JSON text) and files as multipart.
* EXEC  - API_TEST_EXEC="codejaild --config X --exec" ; the payload text is
          written to a temp file and ``<prefix> PAYLOAD_FILE [--file NAME=PATH]...``
          is run; stdout is the JSON body the HTTP service would send and the
          exit code maps to the HTTP status (0->200, 4->400, 5->500).

Tests marked ``http`` need the real HTTP layer and are deselected (not
skipped) when only EXEC is configured.  Tests marked ``disabled_service`` /
``unhealthy_service`` are deselected unless the deployment names such an
instance.
"""

import base64
import ipaddress
import json
import os
import shlex
import subprocess
import tempfile
import urllib.parse

import pytest
import requests

CODE_EXEC_PATH = "/api/v0/code-exec"
EXIT_TO_STATUS = {0: 200, 4: 400, 5: 500}
HTTP_TIMEOUT = 60


# --------------------------------------------------------------------------
# Responses and clients


class Result:
    """What a code-exec call answered, whatever the transport."""

    def __init__(self, status_code, text, headers=None, transport=""):
        self.status_code = status_code
        self.text = text
        self.headers = headers  # None for EXEC
        self.transport = transport

    def json(self):
        # json.loads accepts NaN / Infinity / -Infinity like requests does.
        return json.loads(self.text)

    def __repr__(self):
        return f"<Result {self.transport} {self.status_code} {self.text[:2000]!r}>"


def _payload_text(payload, files=None):
    text = payload if isinstance(payload, str) else json.dumps(payload)
    _record(text, files)
    return text


def _record(text, files=None):
    """API_TEST_RECORD=FILE: append each well-formed payload's code and
    globals (one JSON object a line), the corpus tests/wrapper/differential.py
    replays against the wrapper's fast path; with the rest of the request
    and the test that sent it, for tests/darklaunch/compare.py."""
    path = os.environ.get("API_TEST_RECORD")
    if not path:
        return
    try:
        p = json.loads(text)
    except ValueError:
        return
    if isinstance(p, dict) and isinstance(p.get("code"), str) and isinstance(p.get("globals_dict"), dict):
        rec = {"code": p["code"], "globals_dict": p["globals_dict"],
               "test": os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0],
               "payload": text, "files": {k: base64.b64encode(v).decode() for k, v in (files or {}).items()}}
        with open(path, "a", encoding="utf-8", errors="surrogatepass") as f:
            f.write(json.dumps(rec) + "\n")


def auth_headers():
    """With API_TEST_JWT_KEY (api_tests/run.sh http with API_TEST_JWT=1: a
    service that requires the LMS's JWT), the header edx-rest-api-client
    sends, with a fresh token; else nothing."""
    if not os.environ.get("API_TEST_JWT_KEY"):
        return {}
    import lms_jwt
    return {"Authorization": "JWT " + lms_jwt.mint()}


def auth_line():
    """auth_headers() as a raw header line for hand-made requests."""
    return "".join(f"{k}: {v}\r\n" for k, v in auth_headers().items())


class HttpClient:
    transport = "http"

    def __init__(self, base):
        self.base = base.rstrip("/")

    def url(self, path):
        return self.base + path

    def exec(self, payload, files=None):
        """POST a payload (dict or raw JSON text); files: {field_name: bytes}."""
        data = {"payload": _payload_text(payload, files)}
        if files:
            mp = {name: (name, content, "application/octet-stream") for name, content in files.items()}
            r = requests.post(self.url(CODE_EXEC_PATH), data=data, files=mp, headers=auth_headers(),
                              timeout=HTTP_TIMEOUT)
        else:
            r = requests.post(self.url(CODE_EXEC_PATH), data=data, headers=auth_headers(), timeout=HTTP_TIMEOUT)
        check_http_headers(r)
        return Result(r.status_code, r.text, r.headers, "http")


class ExecClient:
    transport = "exec"

    def __init__(self, prefix):
        self.prefix = shlex.split(prefix)

    def exec(self, payload, files=None):
        with tempfile.TemporaryDirectory(prefix="cj-apitest-") as d:
            pfile = os.path.join(d, "payload.json")
            with open(pfile, "w", encoding="utf-8", errors="surrogatepass") as f:
                f.write(_payload_text(payload, files))
            argv = self.prefix + [pfile]
            for i, (name, content) in enumerate((files or {}).items()):
                path = os.path.join(d, f"upload{i}")
                with open(path, "wb") as f:
                    f.write(content)
                argv += ["--file", f"{name}={path}"]
            try:
                p = subprocess.run(argv, capture_output=True, timeout=HTTP_TIMEOUT)
            except FileNotFoundError as e:
                pytest.fail(f"EXEC transport: cannot run {argv[0]!r}: {e}", pytrace=False)
        if p.returncode not in EXIT_TO_STATUS:
            pytest.fail(
                f"EXEC transport: {shlex.join(argv)} exited {p.returncode} (not 0/4/5); "
                f"stdout={p.stdout[:2000]!r} stderr={p.stderr[-4000:]!r}",
                pytrace=False,
            )
        return Result(EXIT_TO_STATUS[p.returncode], p.stdout.decode("utf-8", "surrogateescape"), None, "exec")


def check_http_headers(r):
    """Every response: Content-Type exactly application/json, Connection: close, Content-Length."""
    assert r.headers.get("Content-Type") == "application/json", r.headers
    assert r.headers.get("Connection", "").lower() == "close", r.headers
    assert "Content-Length" in r.headers, r.headers


def _make_client(base_var, exec_var):
    base = os.environ.get(base_var)
    prefix = os.environ.get(exec_var)
    if base:
        return HttpClient(base)
    if prefix:
        return ExecClient(prefix)
    return None


@pytest.fixture(scope="session")
def client():
    c = _make_client("API_TEST_SERVICE_BASE", "API_TEST_EXEC")
    if c is None:
        pytest.fail("set API_TEST_SERVICE_BASE (HTTP) or API_TEST_EXEC (EXEC transport); see api_tests/README.md",
                    pytrace=False)
    return c


@pytest.fixture(scope="session")
def http_base():
    base = os.environ.get("API_TEST_SERVICE_BASE")
    if not base:
        pytest.fail("this test needs API_TEST_SERVICE_BASE (it is marked http)", pytrace=False)
    return base.rstrip("/")


@pytest.fixture(scope="session")
def disabled_client():
    c = _make_client("API_TEST_DISABLED_BASE", "API_TEST_DISABLED_EXEC")
    assert c is not None  # deselected otherwise
    return c


@pytest.fixture(scope="session")
def unhealthy_client():
    c = _make_client("API_TEST_UNHEALTHY_BASE", "API_TEST_UNHEALTHY_EXEC")
    assert c is not None  # deselected otherwise
    return c


# --------------------------------------------------------------------------
# Running code: helpers used by most tests


class ServiceAnswerError(Exception):
    """The service did not run the probe normally (non-200, or the probe code
    itself raised).  Not an AssertionError on purpose: sabotage_check.py must
    not mistake a broken run for a deny test that lost its denial."""


# The real-host tier's guests run under QEMU TCG, ~10x slower than hardware,
# and the booted container tier starts the suite seconds after its boot on
# a shared 2-core VM: there the heaviest course libraries (matplotlib,
# nltk) have outlasted REALTIME, so those tiers name a limits context with
# room for them (API_TEST_LIBRARY_CONTEXT). Everywhere else (every local
# tier) the default limits apply.
def library_limits():
    ctx = os.environ.get("API_TEST_LIBRARY_CONTEXT")
    return {"limit_overrides_context": ctx} if ctx else {}


def run_ok(client, code, globals_dict=None, files=None, **extra):
    """Run code that must succeed; return the output globals."""
    body = run_any(client, code, globals_dict, files=files, **extra)
    if "emsg" in body:
        raise ServiceAnswerError(f"the code failed: {body['emsg'][:3000]}")
    return body["globals_dict"]


def run_any(client, code, globals_dict=None, files=None, **extra):
    """Run code; return the whole 200 body (globals_dict and maybe emsg)."""
    payload = {"code": code, "globals_dict": globals_dict or {}}
    payload.update(extra)
    r = client.exec(payload, files=files)
    if r.status_code != 200:
        raise ServiceAnswerError(f"expected 200, got {r!r}")
    return r.json()


@pytest.fixture(scope="session")
def service_python(client):
    """(major, minor) of the interpreter the service runs code with, asked
    through the service itself: what it prints (tracebacks) depends on it,
    and the client's own Python may be another one."""
    g = run_ok(client, "import sys\nv = list(sys.version_info[:2])\ndel sys")
    return tuple(g["v"])


# --------------------------------------------------------------------------
# Network safety: code that tries DNS / sockets must never be able to produce
# real traffic, even with every confinement layer switched off (sabotage).


def _netns_is_loopback_only():
    # /proc/self/net/dev shows this process's network namespace (/sys/class/net
    # shows the one sysfs was mounted in)
    try:
        with open("/proc/self/net/dev") as f:
            ifaces = [line.split(":")[0].strip() for line in f.readlines()[2:]]
    except OSError as e:
        return False, f"cannot read /proc/self/net/dev: {e}"
    others = [i for i in ifaces if i != "lo"]
    # run.sh's API_TEST_DUMMY_IF veth pair: both ends live in this namespace,
    # so frames only reach the peer; acceptable only with no default route.
    if sorted(others) == ["cjveth0", "cjveth1"]:
        with open("/proc/self/net/route") as f:
            if any(line.split()[1] == "00000000" for line in f.readlines()[1:]):
                return False, "a default route exists beside the veth pair"
        others = []
    if others:
        return False, f"interfaces besides lo: {others}"
    return True, ""


@pytest.fixture
def no_egress():
    """Refuse (fail, never skip) when the sandbox could reach a real network."""
    if os.environ.get("API_TEST_SERVICE_BASE"):
        host = urllib.parse.urlsplit(os.environ["API_TEST_SERVICE_BASE"]).hostname or ""
        local = host == "localhost"
        try:
            local = local or ipaddress.ip_address(host).is_loopback
        except ValueError:
            pass
        if not local and os.environ.get("API_TEST_SERVICE_HAS_NO_EGRESS") != "1":
            pytest.fail("remote service: set API_TEST_SERVICE_HAS_NO_EGRESS=1 only if it runs with "
                        "PrivateNetwork=yes (see codejail-service(7), THREAT MODEL)", pytrace=False)
        if not local:
            return
    ok, why = _netns_is_loopback_only()
    if not ok and os.environ.get("API_TEST_SERVICE_HAS_NO_EGRESS") != "1":
        pytest.fail("refusing a network-attempting test outside a loopback-only network namespace "
                    f"({why}); use api_tests/run.sh", pytrace=False)


# --------------------------------------------------------------------------
# Host objects the jail must neither see nor reach: planted by
# plant.py on the service's host, here when the service shares this
# filesystem, or by a harness that passes plant.py's first line.

PLANT_DIRS = ["/var/lib", "/srv", "/opt", "/etc", "/home", "/usr/local"]


def _plants_available():
    return os.environ.get("API_TEST_SERVICE_FS") == "local" or bool(os.environ.get("API_TEST_PLANTED"))


class Plants:
    def __init__(self, paths, proc=None):
        self.paths, self.proc = paths, proc

    def in_dir(self, d):
        """{"sock": path, "fifo": path, "file": path} planted in d."""
        return {k: next(p for p in v if os.path.dirname(os.path.dirname(p)) == d) for k, v in self.paths.items()}

    def accepted(self):
        """Connections that reached a planted socket (None: not known here)."""
        if self.proc is None:
            return None
        self.proc.stdin.close()
        line = self.proc.stdout.readline()
        self.proc.wait(timeout=10)
        self.proc = None
        return json.loads(line)["accepted"]


@pytest.fixture
def host_plants():
    if os.environ.get("API_TEST_SERVICE_FS") != "local":
        yield Plants(json.loads(os.environ["API_TEST_PLANTED"])["paths"])
        return
    proc = subprocess.Popen(["/usr/bin/python3", os.path.join(os.path.dirname(__file__), "plant.py"), *PLANT_DIRS],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line:
        proc.wait()
        pytest.fail(f"plant.py could not plant in {PLANT_DIRS}", pytrace=False)
    plants = Plants(json.loads(line)["paths"], proc)
    yield plants
    if plants.proc:
        plants.accepted()


# --------------------------------------------------------------------------
# Collection: deselect what the deployment cannot run (explicitly, not skips)


def pytest_collection_modifyitems(config, items):
    if not config.option.collectonly and not (os.environ.get("API_TEST_SERVICE_BASE") or os.environ.get("API_TEST_EXEC")):
        raise pytest.UsageError("set API_TEST_SERVICE_BASE (HTTP) or API_TEST_EXEC (EXEC transport); "
                                "see api_tests/README.md, or use api_tests/run.sh")
    has_http = bool(os.environ.get("API_TEST_SERVICE_BASE"))
    has_disabled = bool(os.environ.get("API_TEST_DISABLED_BASE") or os.environ.get("API_TEST_DISABLED_EXEC"))
    has_unhealthy = bool(os.environ.get("API_TEST_UNHEALTHY_BASE") or os.environ.get("API_TEST_UNHEALTHY_EXEC"))
    keep, drop = [], []
    for item in items:
        if item.get_closest_marker("http") and not has_http:
            drop.append(item)
        elif item.get_closest_marker("disabled_service") and not has_disabled:
            drop.append(item)
        elif item.get_closest_marker("unhealthy_service") and not has_unhealthy:
            drop.append(item)
        elif item.get_closest_marker("host_plants") and not _plants_available():
            drop.append(item)
        elif item.get_closest_marker("jwt") and not (has_http and os.environ.get("API_TEST_JWT_KEY")):
            drop.append(item)
        elif item.get_closest_marker("venv") and not os.environ.get("API_TEST_VENV_PACKAGE"):
            drop.append(item)
        else:
            keep.append(item)
        if item.get_closest_marker("network_attempt") and "no_egress" not in item.fixturenames:
            raise pytest.UsageError(f"{item.nodeid}: network_attempt tests must use the no_egress fixture")
        if item.name.startswith("test_deny_") and not item.get_closest_marker("layers"):
            raise pytest.UsageError(f"{item.nodeid}: every test_deny_* needs @pytest.mark.layers(...)")
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
    dump = os.environ.get("API_TEST_LAYERS_DUMP")
    if dump:  # used by sabotage_check.py
        out = {}
        for item in items:
            m = item.get_closest_marker("layers")
            out[item.nodeid] = {"name": item.name, "layers": sorted(m.args) if m else None}
        with open(dump, "w") as f:
            json.dump(out, f, indent=1)


def pytest_report_header(config):
    lines = []
    for var in ("API_TEST_SERVICE_BASE", "API_TEST_EXEC", "API_TEST_DISABLED_BASE", "API_TEST_DISABLED_EXEC",
                "API_TEST_UNHEALTHY_BASE", "API_TEST_UNHEALTHY_EXEC", "CODEJAIL_SABOTAGE"):
        if os.environ.get(var):
            lines.append(f"{var}={os.environ[var]}")
    if not os.environ.get("API_TEST_SERVICE_BASE"):
        lines.append("no HTTP base: tests marked http are deselected")
    return lines
