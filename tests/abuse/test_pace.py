# SPDX-License-Identifier: Apache-2.0
"""Pacing (src/pace.c) under systemd-socket-activate: an execution gives
back its FRESH byte after its start, so a sleeping one does not hold back
a quick one; past PACE_CPU_BOUND_MS of CPU time an execution runs only
while it holds one of max_cpu_bound_executions LONG bytes and is paused
(every process stopped) while it waits for one, its REALTIME clock
stopped; kill -9 of a paused execution's instance leaves nothing behind.
A paused program that continues itself is killed (PACING); neither a
storm of SIGCHLD nor children reaped by no one keep its init from
measuring; a CPU-bound execution that goes to sleep gives its place back.

CJ_PACE_SABOTAGE=1 (tests/abuse/pace-sabotage.sh): the activators run the
sabotage build with pacing switched off, and every test named there must
then fail."""
import json
import os
import signal
import socket
import time

import pytest

from test_queue import Service, answer, drained, field

SABOTAGE = os.environ.get("CJ_PACE_SABOTAGE") == "1"

# A CPU-bound loop that reports the longest time it was not let run
# between two of its own steps (a pause shows as one long gap) and the sum
# of such times over 50 ms (an execution can be paused more than once).
LOOP = """import time
cpu_s = %g
gap = 0.0
stopped = 0.0
last = time.monotonic()
while time.process_time() < cpu_s:
    for _ in range(2000):
        pass
    now = time.monotonic()
    gap = max(gap, now - last)
    if now - last > 0.05:
        stopped += now - last
    last = now
gap = round(gap, 3)
stopped = round(stopped, 3)
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
    """Eight slots and FRESH bytes, one LONG byte; REALTIME 3 s for the
    loops, 10 s and 60 s for the longer ones."""
    svc = paced(10, {"max_concurrent_executions": 8, "max_starting_executions": 8,
                     "max_cpu_bound_executions": 1, "queue_timeout_s": 30},
                {"pace-loop": {"CPU": 10, "REALTIME": 3}, "pace-hold": {"CPU": 30, "REALTIME": 60},
                 "pace-rt10": {"CPU": 30, "REALTIME": 10}})
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
    paused = [(e, a.json()["globals_dict"]) for e, a in zip(entries, answers)
              if int(field(e, "CODEJAIL_PAUSED_MS") or 0) > 0]
    # at most one ran unpaused past its first 250 ms of CPU at a time
    assert len(paused) >= n - 2, [field(e, "CODEJAIL_PAUSED_MS") for e in entries]
    for e, g in paused:
        # a paused program was stopped: not let run about as long as its
        # pauses
        assert g["stopped"] * 1000 >= 0.8 * int(field(e, "CODEJAIL_PAUSED_MS")) - 50, (g, e)
    # its REALTIME clock ran only while it was let run: some took longer
    # than REALTIME, and were not killed
    assert max(int(field(e, "CODEJAIL_DURATION_MS")) for e in entries) > 3000, \
        "no execution took longer than REALTIME: the test did not test the pause"
    drained(one_cpu_bound)


def jail_processes(svc):
    """(pid, state) of every process under the service's instances."""
    procs = []
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
                    procs.append((int(k), stat[stat.rindex(")") + 2]))
                except OSError:
                    pass
    return procs


def jail_states(svc):
    """The process states of every program of the service's executions."""
    return [st for _, st in jail_processes(svc)]


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


# Burn CPU for %g s of wall time, recording the longest time not let run.
BURN = """import time as _t
_start = _t.monotonic(); _last = _start; gap = 0.0
while _last - _start < %g:
    for _ in range(2000):
        pass
    _now = _t.monotonic(); gap = max(gap, _now - _last); _last = _now
gap = round(gap, 3)
"""

# Two helpers make an orphan die every few ms: each death is a SIGCHLD to
# the jail's init.
SIGCHLD_STORM = """import os, time as _t0
_helpers = []
for _k in range(2):
    _h = os.fork()
    if _h == 0:
        while True:
            _c = os.fork()
            if _c == 0:
                os.fork()
                os._exit(0)
            os.waitpid(_c, 0)
            _t0.sleep(0.004)
    _helpers.append(_h)
"""

STORM_END = """
for _h in _helpers:
    os.kill(_h, 9); os.waitpid(_h, 0)
del _helpers, _h, _k
"""


LONG_BASE = 20480  # admit.h: ADMIT_LONG_BASE


def cpu_bound_places_held(svc):
    """LONG bytes held on the service's admission lock, from /proc/locks."""
    state = json.load(open(svc.config))["state_dir"]
    ino = os.stat(os.path.join(state, "admission.lock")).st_ino
    held = 0
    for line in open("/proc/locks"):
        f = line.split()
        if "->" not in f and len(f) >= 8 and f[5].endswith(":%d" % ino) and int(f[6]) >= LONG_BASE:
            held += 1
    return held


def wait_for_holder(svc):
    """Until an execution holds a LONG byte (on a loaded host the holder may
    need seconds for its first 250 ms of CPU); with pacing off none ever
    does, and the test goes on to fail."""
    deadline = time.monotonic() + 20
    while not SABOTAGE and cpu_bound_places_held(svc) == 0 and time.monotonic() < deadline:
        time.sleep(0.02)


def behind_holder(svc, tag, code, holder=LOOP % 2.5, wait=0.6):
    """A takes the only LONG byte; `code` is sent `wait` s after. Both
    answers and log entries."""
    a = svc.send(holder, tag + "-a", context="pace-hold")
    wait_for_holder(svc)
    time.sleep(wait)
    b = svc.send(code, tag + "-b", context="pace-rt10")
    rb, ra = answer(b), answer(a)
    ea, eb = svc.wait_entries(tag + "-a", 1)[0], svc.wait_entries(tag + "-b", 1)[0]
    drained(svc)
    return ra, ea, rb, eb


def test_paused_program_that_continues_itself_is_killed(one_cpu_bound):
    """A pause is a SIGSTOP, which the program can undo (a timer sending
    it SIGCONT, an orphaned stopped process group; how well that works
    depends on the kernel and the load). Here the test undoes it, from
    outside, as such a program would: the init sees the namespace use CPU
    while paused and ends the execution, logged PACING."""
    a = one_cpu_bound.send(LOOP % 3, "pace-escape-a", context="pace-hold")
    wait_for_holder(one_cpu_bound)
    b = one_cpu_bound.send(BURN % 8, "pace-escape-b", context="pace-rt10")
    deadline = time.monotonic() + 15
    stopped = []
    while not stopped and time.monotonic() < deadline:
        stopped = [pid for pid, st in jail_processes(one_cpu_bound) if st == "T"]
        time.sleep(0.02)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 3:
        for pid in stopped:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        time.sleep(0.005)
    rb, ra = answer(b), answer(a)
    eb = one_cpu_bound.wait_entries("pace-escape-b", 1)[0]
    drained(one_cpu_bound)
    assert stopped, "B was never paused"
    assert ra.status == 200 and "emsg" not in ra.json(), ra
    assert field(eb, "CODEJAIL_LIMIT_HIT") == "PACING", eb
    assert rb.status == 200 and "status code: -9" in rb.json().get("emsg", ""), rb


def test_sigchld_storm_does_not_hide_cpu(one_cpu_bound):
    """Orphans dying every few ms interrupt the init's wait again and
    again; its looks keep their own clock, so the program is still found
    CPU-bound and paused behind the holder."""
    ra, ea, rb, eb = behind_holder(one_cpu_bound, "pace-storm", SIGCHLD_STORM + BURN % 1.5 + STORM_END)
    assert ra.status == 200 and rb.status == 200 and "emsg" not in rb.json(), (ra, rb)
    paused = int(field(eb, "CODEJAIL_PAUSED_MS") or 0)
    assert paused > 300, eb
    assert rb.json()["globals_dict"]["gap"] * 1000 >= 0.8 * paused - 50, (rb.json(), eb)


# Children reaped by no one (SIGCHLD ignored), two at a time, each 100 ms
# of CPU: their time reaches no parent's cutime.
AUTOREAPED = """import os, signal, time as _t
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
_start = _t.monotonic()
while _t.monotonic() - _start < 2.5:
    for _i in range(2):
        if os.fork() == 0:
            _c = _t.process_time()
            while _t.process_time() - _c < 0.1:
                pass
            os._exit(0)
    try:
        os.waitpid(-1, 0)
    except ChildProcessError:
        pass
"""


def test_children_reaped_by_no_one_still_count(one_cpu_bound):
    """The CPU of children the kernel reaps at once (SIGCHLD ignored) is in
    no one's reaped time: the init counts each process while it lives and
    keeps it when it is gone, so the execution is still found CPU-bound
    and paused behind the holder."""
    ra, ea, rb, eb = behind_holder(one_cpu_bound, "pace-autoreap", AUTOREAPED)
    assert ra.status == 200 and rb.status == 200 and "emsg" not in rb.json(), (ra, rb)
    assert int(field(eb, "CODEJAIL_PAUSED_MS") or 0) > 300, eb


# A chain of short processes: each link uses 5 ms of CPU -- under one
# clock tick, 0 in /proc/<pid>/stat -- forks the next and exits, an orphan
# the init reaps. The program itself only waits.
CHAIN = """import os, time as _t
_end = _t.monotonic() + 1.5
if os.fork() == 0:
    while True:
        while _t.process_time() < 0.005:
            pass
        if _t.monotonic() >= _end or os.fork():
            os._exit(0)
while _t.monotonic() < _end + 0.1:
    _t.sleep(0.05)
"""


def test_chain_of_short_processes_is_counted(one_cpu_bound):
    """Each link of the chain uses less CPU than a clock tick and lives
    shorter than most intervals between two looks; the init reads each
    orphan's CPU clock before it reaps it, so the chain's CPU counts, and
    the execution is paused behind the holder."""
    ra, ea, rb, eb = behind_holder(one_cpu_bound, "pace-chain", CHAIN)
    assert ra.status == 200 and rb.status == 200 and "emsg" not in rb.json(), (ra, rb)
    assert int(field(eb, "CODEJAIL_PAUSED_MS") or 0) > 300, eb


# A grader's shape: a short child per case, each 2 ms of CPU, waited for.
FORK_PER_CASE = """import os, time as _t
_end = _t.monotonic() + 1.5
while _t.monotonic() < _end:
    _c = os.fork()
    if _c == 0:
        while _t.process_time() < 0.002:
            pass
        os._exit(0)
    os.waitpid(_c, 0)
"""


def test_children_waited_for_between_looks_count(one_cpu_bound):
    """Children that live and are waited for between two looks are seen by
    no look; their CPU is in their parent's reaped time, which counts, so
    the execution is paused behind the holder."""
    ra, ea, rb, eb = behind_holder(one_cpu_bound, "pace-forks", FORK_PER_CASE)
    assert ra.status == 200 and rb.status == 200 and "emsg" not in rb.json(), (ra, rb)
    assert int(field(eb, "CODEJAIL_PAUSED_MS") or 0) > 300, eb


# An honest program that runs one job in a child (as `subprocess.run`
# would) and waits for it: 0.15 s of CPU in all, under PACE_CPU_BOUND_MS,
# with the child alive through several looks. Then it sleeps.
SUBPROCESS = """import os, time as _t
_c = os.fork()
if _c == 0:
    _s = _t.process_time()
    while _t.process_time() - _s < 0.15:
        pass
    os._exit(0)
os.waitpid(_c, 0)
_t.sleep(1)
"""


def test_child_waited_for_counts_once(one_cpu_bound):
    """A child the looks saw alive, then waited for by its parent, is in
    its parent's reaped time as well: counted once, the program stays
    under PACE_CPU_BOUND_MS and is not paused behind the holder."""
    ra, ea, rb, eb = behind_holder(one_cpu_bound, "pace-subprocess", SUBPROCESS)
    assert ra.status == 200 and rb.status == 200 and "emsg" not in rb.json(), (ra, rb)
    assert int(field(eb, "CODEJAIL_PAUSED_MS") or 0) == 0, eb


def test_cpu_bound_execution_that_sleeps_gives_its_place_back(one_cpu_bound):
    """An execution that used 0.4 s of CPU and then sleeps is idle after a
    window: the only CPU-bound place goes back, and a 1 s loop sent later
    runs at once instead of waiting for the sleeper's end."""
    sleeper = "import time\nwhile time.process_time() < 0.4:\n    pass\ntime.sleep(3)\n"
    ra, ea, rb, eb = behind_holder(one_cpu_bound, "pace-idle", LOOP % 1.0, holder=sleeper, wait=1.2)
    assert ra.status == 200 and rb.status == 200 and "emsg" not in rb.json(), (ra, rb)
    assert int(field(eb, "CODEJAIL_PAUSED_MS") or 0) < 500, eb
