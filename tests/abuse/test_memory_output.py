# SPDX-License-Identifier: Apache-2.0
"""What interpreting the program's output costs, measured from outside the
instance (tests/bench/memshapes.py): 4 MB of output of the worst shapes (1 MB
deeply nested, which is all the wrapper produces within the CPU limit; one
object of 500,000 three-character keys that the program writes to its stdout
itself) costs the parsing child at most 4 x it + 2 MiB above a minimal
answer. A module of
its own: test_memory.py's held slot is released before these run."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
import memshapes  # noqa: E402
from conftest import assert_no_leftovers, normal_request_ok  # noqa: E402

MIB = 1 << 20
OUTPUTS = ["empty-objects", "small-numbers", "deep-nesting", "many-keys", "short-keys"]


@pytest.fixture(scope="module")
def free_slot():
    svc = memshapes.Service(int(os.environ.get("CJ_PORT", "8080")) + 14,
                            {"max_concurrent_executions": 1, "queue_timeout_s": 120, "request_timeout_s": 30})
    hwm, _, _ = memshapes.output_cost(svc, "small-numbers", 3, "out-base")
    yield svc, hwm
    svc.stop()
    normal_request_ok()
    assert_no_leftovers()


@pytest.mark.parametrize("shape", OUTPUTS)
def test_interpreting_output_holds_a_small_multiple_of_it(free_slot, shape):
    svc, base_hwm = free_slot
    size = memshapes.OUTPUT_MAX.get(shape, 4000000)
    hwm, out_bytes, got = memshapes.output_cost(svc, shape, size, "out-" + shape)
    assert got.startswith(b"HTTP/1.1 200 "), got
    above = (hwm - base_hwm) * 1024
    assert above <= 4 * out_bytes + 2 * MIB, "%s: %d KiB above a minimal answer for %d bytes of output (%.1fx)" % (
        shape, above // 1024, out_bytes, above / out_bytes)
