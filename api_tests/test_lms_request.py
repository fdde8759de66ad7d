# SPDX-License-Identifier: Apache-2.0
"""The request the LMS really sends for a capa problem
(../shared/NOTES-openedx.md): code = a prolog that imports random2 and six
and seeds `random`, then the platform's lazy-import shim, then the problem's
own code; python_path ['python_lib.zip'] with the course's zip uploaded;
limit_overrides_context the course key; slug the problem's usage key.

Without random2 in the sandbox (it exists only on PyPI: units/README.md,
"sandbox virtualenv") every capa problem fails, and the answer must be
upstream's own text for a missing module, byte for byte; with it the
problem runs."""

import io
import json
import re
import zipfile

import pytest
import requests

from conftest import CODE_EXEC_PATH, HTTP_TIMEOUT, auth_headers, check_http_headers, run_any, run_ok

SEED = 1234567
# What the platform's safe_exec puts before every problem (written here from
# the notes' description: same statements, same order).
PROLOG = f"""from __future__ import absolute_import, division

import os
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["TMPDIR"] = os.getcwd() + "/tmp"
os.environ["MPLCONFIGDIR"] = os.environ["TMPDIR"]

import random2 as random_module
import sys
from six.moves import xrange

random = random_module.Random({SEED!r})
random.Random = random_module.Random
random.SystemRandom = random_module.SystemRandom
sys.modules['random'] = random
"""
# The lazy-import shim: modules bound to names, imported on first use.
LAZY = """
class LazyModule(object):
    def __init__(self, modname):
        self.__name__ = modname
        self.__dict__['_module'] = None

    def __getattr__(self, name):
        if self.__dict__['_module'] is None:
            import importlib
            self.__dict__['_module'] = importlib.import_module(self.__name__)
        return getattr(self.__dict__['_module'], name)
numpy = LazyModule('numpy')
math = LazyModule('math')
scipy = LazyModule('scipy')
calc = LazyModule('calc')
eia = LazyModule('eia')
chemcalc = LazyModule('chem.chemcalc')
chemtools = LazyModule('chem.chemtools')
miller = LazyModule('chem.miller')
draganddrop = LazyModule('verifiers.draganddrop')
"""
# The problem: a customresponse check against the course library's helper.
PROBLEM = """
import course_helpers
def check_answer(expect, ans):
    return course_helpers.close(float(ans), float(expect))
n = random.randint(1, 10)
correct = check_answer(expect, ans)
area = numpy.pi * 2 ** 2
"""
COURSE = "course-v1:edX+DemoX+Demo_Course"
SLUG = "block-v1:edX+DemoX+Demo_Course+type@problem+block@7f3c2a9e1b"
GLOBALS = {"expect": "42", "ans": "42.0", "submission": ["42.0"]}
JAIL_DIR_RE = re.compile(r"/tmp/codejail-[a-z0-9_]{8}/")


def course_zip():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("course_helpers.py", "def close(a, b, tol=1e-6):\n    return abs(a - b) <= tol\n")
    return buf.getvalue()


def lms_payload():
    return {"code": PROLOG + LAZY + PROBLEM, "globals_dict": GLOBALS, "python_path": ["python_lib.zip"],
            "limit_overrides_context": COURSE, "slug": SLUG, "unsafely": False}


def missing_random2_emsg(service_python):
    """Upstream codejail's answer for this code on that interpreter: the
    wrapper's exec is on line 19 + len(python_path); the failing line is
    the prolog's import of random2."""
    line = PROLOG.splitlines().index("import random2 as random_module") + 1
    markers = "    ~~~~^^^^^^^^^^^^^^\\n" if service_python >= (3, 13) else ""
    return ("Couldn't execute jailed code: stdout: b'', stderr: b'Traceback (most recent call last):\\n"
            "  File \"/tmp/codejail-XXXXXXXX/jailed_code\", line 20, in <module>\\n    exec(code, g_dict)\\n"
            + markers +
            f"  File \"<string>\", line {line}, in <module>\\n"
            # stderr holds both quote kinds: bytes repr escapes the single ones
            "ModuleNotFoundError: No module named \\'random2\\'\\n' with status code: 1")


@pytest.fixture(scope="session")
def sandbox_has_random2(client):
    g = run_ok(client, "import importlib.util\nr = importlib.util.find_spec('random2') is not None\ndel importlib")
    return g["r"]


def check_answer(body, service_python, sandbox_has_random2):
    if sandbox_has_random2:
        g = body.get("globals_dict", {})
        assert "emsg" not in body, body
        assert g["correct"] is True and 1 <= g["n"] <= 10 and abs(g["area"] - 12.566370614359172) < 1e-9, body
        assert {k: g[k] for k in GLOBALS} == GLOBALS, body
    else:
        assert JAIL_DIR_RE.search(body.get("emsg", "")), body
        body["emsg"] = JAIL_DIR_RE.sub("/tmp/codejail-XXXXXXXX/", body["emsg"])
        assert body == {"globals_dict": GLOBALS, "emsg": missing_random2_emsg(service_python)}, body


def test_support_lms_capa_request(client, service_python, sandbox_has_random2):
    body = run_any(client, lms_payload()["code"], GLOBALS, files={"python_lib.zip": course_zip()},
                   python_path=["python_lib.zip"], limit_overrides_context=COURSE, slug=SLUG, unsafely=False)
    check_answer(body, service_python, sandbox_has_random2)


@pytest.mark.http
def test_support_lms_capa_request_on_the_wire(http_base, service_python, sandbox_has_random2):
    # As the platform's client posts it: requests, files as (name, bytes)
    # pairs, the payload json.dumps()ed into a form field; with OAuth
    # configured, edx-rest-api-client's "Authorization: JWT <token>".
    r = requests.post(http_base + CODE_EXEC_PATH, files=[("python_lib.zip", course_zip())],
                      data={"payload": json.dumps(lms_payload())}, headers=auth_headers(), timeout=HTTP_TIMEOUT)
    check_http_headers(r)
    assert r.status_code == 200, r.text
    check_answer(r.json(), service_python, sandbox_has_random2)
