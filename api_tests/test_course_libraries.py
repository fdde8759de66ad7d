# SPDX-License-Identifier: Apache-2.0
"""Debian's share of Open edX's course sandbox: each library the
package recommends, imported and put to a small real use through the jail,
within the default limits. (random2, openedx-calc, chem and
codejail-includes exist only on PyPI: an operator adds them with a sandbox
virtualenv, see units/README.md.)"""

import os

import pytest

from conftest import library_limits, run_ok

# name -> (code that sets x, the expected x)
LIBRARIES = {
    "numpy": ("import numpy\nx = numpy.linalg.solve([[2, 0], [0, 4]], [2, 8]).tolist()", [1.0, 2.0]),
    "scipy": ("from scipy import integrate\nx = round(integrate.quad(lambda t: t * t, 0, 3)[0], 9)", 9.0),
    "sympy": ("import sympy\ns = sympy.Symbol('s')\nx = sorted(int(v) for v in sympy.solve(s**2 - 5*s + 6, s))", [2, 3]),
    "networkx": ("import networkx\nx = networkx.shortest_path(networkx.path_graph(4), 0, 3)", [0, 1, 2, 3]),
    "matplotlib": ("import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
                   "plt.plot([1, 2, 3], [3, 1, 2])\nplt.savefig('tmp/plot.png')\n"
                   "x = open('tmp/plot.png', 'rb').read(8).hex()", "89504e470d0a1a0a"),
    "lxml": ("from lxml import etree\nx = etree.fromstring('<a><b n=\"1\">hi</b></a>').find('b').attrib['n']", "1"),
    "nltk": ("from nltk.tokenize import wordpunct_tokenize\nx = wordpunct_tokenize('Open edX, 2026!')",
             ["Open", "edX", ",", "2026", "!"]),
    "pyparsing": ("import pyparsing\nx = pyparsing.Word(pyparsing.nums)[1, ...].parse_string('1 22 333').as_list()",
                  ["1", "22", "333"]),
    "cryptography": ("from cryptography.hazmat.primitives import hashes\nh = hashes.Hash(hashes.SHA256())\n"
                     "h.update(b'abc')\nx = h.finalize().hex()[:16]", "ba7816bf8f01cfea"),
    "six": ("import six\nx = six.moves.reduce(lambda a, b: a + b, six.moves.range(5))", 10),
}


@pytest.mark.parametrize("name", sorted(LIBRARIES))
def test_support_course_library(client, name):
    code, want = LIBRARIES[name]
    g = run_ok(client, code, **library_limits())  # modules and other objects are dropped by json_safe
    assert g.get("x") == want, g


# The PyPI-only libraries come from a sandbox virtualenv (units/README.md):
# api_tests/run.sh exec-venv makes one, installs a package of the suite's
# own into it offline, and runs the whole suite with python_bin there.
@pytest.mark.venv
def test_support_sandbox_virtualenv(client):
    g = run_ok(client, "\n".join([
        "import sys, json, numpy, " + os.environ["API_TEST_VENV_PACKAGE"] + " as probe",
        "x = probe.triple(14)",
        "own = probe.__file__.startswith(sys.prefix + '/')",
        "prefix, base = sys.prefix, sys.base_prefix",
        "stdlib, dist = json.__file__, numpy.__file__",
    ]))
    assert g["x"] == 42 and g["own"] is True, g
    assert g["prefix"] == os.environ["API_TEST_VENV_PREFIX"] and g["base"] == "/usr", g
    assert g["stdlib"].startswith("/usr/lib/python3."), g
    assert g["dist"].startswith("/usr/lib/python3/dist-packages/"), g
