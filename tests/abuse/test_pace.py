# SPDX-License-Identifier: Apache-2.0
"""Pacing (src/pace.c) under systemd-socket-activate: an execution gives
back its FRESH byte after its start, so a sleeping one does not hold back
a quick one; past PACE_CPU_BOUND_MS of CPU time an execution runs only
while it holds one of max_cpu_bound_executions LONG bytes and is paused
(every process stopped) while it waits for one, its REALTIME clock
stopped; kill -9 of a paused execution's instance leaves nothing behind.

CJ_PACE_SABOTAGE=1 (tests/abuse/pace-sabotage.sh): the activators run the
sabotage build with pacing switched off, and every test named there must
then fail."""
import os
import socket
import time

import pytest

from test_queue import Service, answer, drained, field

SABOTAGE = os.environ.get("CJ_PACE_SABOTAGE") == "1"

# A CPU-bound loop that reports the longest time it was not let run
# between two of its own steps (a pause shows as one long gap) and its
# own CPU time.
LOOP = """import time
cpu_s = %g
gap = 0.0
last = time.monotonic()
while time.process_time() < cpu_s:
    for _ in range(2000):
        pass
    now = time.monotonic()
    gap = max(gap, now - last)
    last = now
gap = round(gap, 3)
"""


def paced(port_offset, extra, contexts=None):
    return Service(int(os.environ.get("CJ_PORT", "8080")) + port_offset, extra, contexts,
                   sabotage="pacing" if SABOTAGE else "")


@pytest.fixture(scope="module")
def one_fresh():
    """Four slots, but one FRESH byte: only one execution at a time in its
    first PACE_FRESH_MS."""
    svc = paced(9, {"max_concurrent_executions": 4, "max_starting_executions": 1,
                    "max_cpu_bound_executions": 1, "queue_timeout_s": 30})
    yield svc
    svc.stop()


def test_sleeping_execution_does_not_hold_back_a_quick_one(one_fresh):
    """A sleeping execution past its start holds a slot but not the FRESH
    byte: a quick request behind it waits for no more than its start."""
    sleeper = one_fresh.send("import time\ntime.sleep(4)", "pace-sleeper", context="queue-hold")
    time.sleep(0.6)  # its start (PACE_FRESH_MS) is over
    t0 = time.monotonic()
    quick = one_fresh.send("x = 41 + 1", "pace-quick")
    r = answer(quick)
    took = time.monotonic() - t0
    assert r.status == 200 and r.json() == {"globals_dict": {"x": 42}}, r
    e = one_fresh.wait_entries("pace-quick", 1)[0]
    assert int(field(e, "CODEJAIL_QUEUE_MS")) < 300, e
    assert took < 2.0, took
    assert answer(sleeper).status == 200
    drained(one_fresh)


@pytest.fixture(scope="module")
def one_cpu_bound():
    """Eight slots and FRESH bytes, one LONG byte; REALTIME 3 s."""
    svc = paced(10, {"max_concurrent_executions": 8, "max_starting_executions": 8,
                     "max_cpu_bound_executions": 1, "queue_timeout_s": 30},
                {"pace-loop": {"CPU": 10, "REALTIME": 3}, "pace-hold": {"CPU": 30, "REALTIME": 60}})
    yield svc
    svc.stop()


def test_cpu_bound_executions_take_turns_and_reach_their_end(one_cpu_bound):
    """Eight 1 s CPU loops at once on a 2-core host with REALTIME 3 s:
    shared, each would need ~4 s and be killed. Paced, one runs past its
    first PACE_CPU_BOUND_MS at a time, the others paused -- stopped, as
    their own clocks show -- with their REALTIME clocks stopped too: all
    eight answer."""
    n = 8
    socks = [one_cpu_bound.send(LOOP % 1.0, "pace-loop-%d" % i, context="pace-loop") for i in range(n)]
    answers = [answer(s) for s in socks]
    for i, r in enumerate(answers):
        assert r.status == 200, (i, r)
        assert "emsg" not in r.json(), (i, r.json())
    entries = [one_cpu_bound.wait_entries("pace-loop-%d" % i, 1)[0] for i in range(n)]
    paused = [(e, a.json()["globals_dict"]["gap"]) for e, a in zip(entries, answers)
              if int(field(e, "CODEJAIL_PAUSED_MS") or 0) > 0]
    # at most one ran unpaused past its first 250 ms of CPU at a time
    assert len(paused) >= n - 2, [field(e, "CODEJAIL_PAUSED_MS") for e in entries]
    for e, gap in paused:
        # a paused program was stopped: one gap about as long as its pause
        assert gap * 1000 >= 0.8 * int(field(e, "CODEJAIL_PAUSED_MS")) - 50, (gap, e)
    # its REALTIME clock ran only while it was let run: some took longer
    # than REALTIME, and were not killed
    assert max(int(field(e, "CODEJAIL_DURATION_MS")) for e in entries) > 3000, \
        "no execution took longer than REALTIME: the test did not test the pause"
    drained(one_cpu_bound)


def jail_states(svc):
    """The process states of every program of the service's executions."""
    states = []
    for pid, _ in svc.instances():
        stack = [pid]
        while stack:
            p = stack.pop()
            try:
                kids = open("/proc/%d/task/%d/children" % (p, p)).read().split()
            except OSError:
                continue
            for k in kids:
                stack.append(int(k))
                try:
                    stat = open("/proc/%s/stat" % k).read()
                    states.append(stat[stat.rindex(")") + 2])
                except OSError:
                    pass
    return states


def test_kill_9_of_a_paused_execution_leaves_nothing(one_cpu_bound):
    """Two long loops, one LONG byte: one is paused (its processes stopped,
    state T); kill -9 of every instance leaves no process, and the LONG
    byte and the slots are free at once after."""
    socks = [one_cpu_bound.send(LOOP % 20, "pace-kill-%d" % i, context="pace-hold") for i in range(2)]
    deadline = time.monotonic() + 10
    while "T" not in jail_states(one_cpu_bound):
        assert time.monotonic() < deadline, jail_states(one_cpu_bound)
        time.sleep(0.05)
    for pid, _ in one_cpu_bound.instances():
        os.kill(pid, 9)
    for s in socks:
        s.close()
    drained(one_cpu_bound, timeout=10)
    # nothing stopped anywhere under the activator, no LONG byte left held:
    # two loops of 0.6 s run one after the other, unpaused beyond their turn
    t0 = time.monotonic()
    socks = [one_cpu_bound.send(LOOP % 0.6, "pace-after-%d" % i, context="pace-loop") for i in range(2)]
    for s in socks:
        r = answer(s)
        assert r.status == 200 and "emsg" not in r.json(), r
    assert time.monotonic() - t0 < 5
    for i in range(2):
        e = one_cpu_bound.wait_entries("pace-after-%d" % i, 1)[0]
        assert int(field(e, "CODEJAIL_PAUSED_MS") or 0) < 1500, e
    drained(one_cpu_bound)
