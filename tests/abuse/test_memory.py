# SPDX-License-Identifier: Apache-2.0
"""What one request makes an instance hold, measured from outside it
(tests/bench/memshapes.py: /proc/PID/status of the instance's processes).

A request waiting for a slot holds at most 4 x its body + 2 MiB above a
minimal request, for the worst shapes of globals_dict at the payload cap
(empty containers, one-character strings, small numbers, deep nesting, many
keys, repeated keys, bytes that are not UTF-8, floats that print longer);
test_memory_output.py holds interpreting the program's output to the same
bound. The service under test has one slot, held by a sleeping execution,
so each request measured waits in the queue."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
import memshapes  # noqa: E402
from conftest import assert_no_leftovers, normal_request_ok  # noqa: E402

MIB = 1 << 20
AT_CAP = memshapes.FORM_CAP - 256  # globals text whose payload field stays under the cap

QUEUED = [("multipart", s) for s in memshapes.SHAPES] + [("urlencoded", "empty-objects"),
                                                         ("urlencoded", "small-numbers")]


@pytest.fixture(scope="module")
def one_slot():
    svc = memshapes.Service(int(os.environ.get("CJ_PORT", "8080")) + 13,
                            {"max_concurrent_executions": 1, "queue_timeout_s": 120, "request_timeout_s": 30})
    yield svc
    svc.stop()


@pytest.fixture(scope="module")
def held(one_slot):
    h = memshapes.hold_slot(one_slot)
    base = {enc: memshapes.queued_cost(one_slot, enc, memshapes.payload_text("{}"))[0]
            for enc in ("multipart", "urlencoded")}
    assert all(base.values()), "the minimal request did not wait for the slot"
    yield one_slot, base
    memshapes.release_slot(h)
    # conftest's after-test checks, once the held execution is gone
    normal_request_ok()
    assert_no_leftovers()


@pytest.fixture(autouse=True)
def service_survives():
    """While the slot is held its sleeping execution is a live sandbox
    process: conftest's checks run when it is released (`held`)."""
    yield


@pytest.mark.parametrize("enc,shape", QUEUED)
def test_waiting_request_holds_a_small_multiple_of_its_body(held, enc, shape):
    svc, base = held
    text = memshapes.shape_text(shape, memshapes.fit(enc, shape, AT_CAP))
    cost, blen = memshapes.queued_cost(svc, enc, memshapes.payload_text(text))
    assert cost, "the request was answered instead of waiting for the slot"
    above = (cost["rss"] - base[enc]["rss"]) * 1024
    assert above <= 4 * blen + 2 * MIB, "%s %s: %d KiB above a minimal request for a %d-byte body (%.1fx)" % (
        enc, shape, above // 1024, blen, above / blen)
