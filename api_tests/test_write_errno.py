# SPDX-License-Identifier: Apache-2.0
"""README "Writes outside tmp/: upstream's errno and ours": every write-like
operation in the working directory and the rest of the root answers the
errno of api_tests/write_errno.py's table, exactly -- upstream's where the
table says so (13 in the working directory: the everyday
`open('mydata.txt', 'w')`), and where a layer of ours answers first (a
read-only mount: 30; no LSM that mediates chmod: 1), the table's reason.

One probe runs every operation in one execution (write_errno.PROBE, harmless
under sabotage: see there); each row is its own deny test with the layers
that must all be off for it to fail.
"""

import os
import urllib.request
import json

import pytest

import write_errno
from conftest import run_ok


@pytest.fixture(scope="session")
def write_probe(client):
    return run_ok(client, write_errno.probe_code())


@pytest.fixture(scope="session")
def sandbox_apparmor():
    """Whether the service's executions run under the sandbox profile:
    health.json's layers.apparmor over HTTP, this kernel's loaded profiles
    otherwise (EXEC runs the jail here)."""
    base = os.environ.get("API_TEST_SERVICE_BASE")
    if base:
        with urllib.request.urlopen(base.rstrip("/") + "/health/", timeout=30) as r:
            return json.load(r).get("layers", {}).get("apparmor") == "enforced"
    try:
        with open("/sys/kernel/security/apparmor/profiles") as f:
            return any(line.startswith("codejail-sandbox ") for line in f)
    except OSError:
        return False


@pytest.mark.parametrize("row", [pytest.param(r, id=r[0], marks=pytest.mark.layers(*r[6]))
                                 for r in write_errno.ROWS])
def test_deny_write(write_probe, sandbox_apparmor, row):
    want = write_errno.expected_ours(row, write_probe["kernel"], sandbox_apparmor)
    got = write_probe["r"][row[0]]
    assert got == want, f"{row[0]} ({row[1]} {row[2]}): errno {got}, want {want} (upstream {row[3]})"


def test_support_table_is_readme():
    # the README's table is this one (tests/e2e/docs-suite.sh checks the
    # README side); every row names its reason where ours differs
    for rid, _op, _args, upstream, ours, with_aa, layers, why in write_errno.ROWS:
        differs = ours != upstream or (with_aa is not None and with_aa != upstream)
        assert bool(why) == differs, rid
        assert layers, rid
