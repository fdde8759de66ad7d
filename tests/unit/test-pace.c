/* SPDX-License-Identifier: Apache-2.0 */
/* Pacing (src/pace.c): what the jail's init makes of its looks at the
 * namespace's CPU time (CPU-bound, idle again, a pause undone), when it
 * looks, and the supervisor's side on the admission lock: a newcomer does
 * not pass a paused execution waiting for a CPU-bound place, and one that
 * went idle gives its place back. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "admit.h"
#include "pace.h"

static enum pace_report look_r(struct pace_watch *w, uint64_t now, uint64_t cpu, int max_pid, unsigned runnable) {
        struct pace_sample s = { .cpu_ms = cpu, .max_pid = max_pid, .runnable = runnable };
        return pace_watch_look(w, now, &s);
}

static enum pace_report look(struct pace_watch *w, uint64_t now, uint64_t cpu, int max_pid) {
        return look_r(w, now, cpu, max_pid, 0);
}

static void test_looks_on_a_jittered_clock(void **state) {
        (void)state;
        struct pace_watch w;
        pace_watch_begin(&w, 1000, 42);
        uint64_t lo = UINT64_MAX, hi = 0;
        for (int i = 0; i < 200; i++) {
                uint64_t now = w.next_ms;
                look(&w, now, 0, 2);
                uint64_t gap = w.next_ms - now;
                assert_true(gap >= PACE_TICK_MS / 2 && gap <= PACE_TICK_MS / 2 + PACE_TICK_MS);
                lo = gap < lo ? gap : lo;
                hi = gap > hi ? gap : hi;
        }
        assert_true(hi - lo >= PACE_TICK_MS / 2); /* not one fixed period */
}

static void test_cpu_bound_then_idle_then_bound(void **state) {
        (void)state;
        struct pace_watch w;
        pace_watch_begin(&w, 0, 7);
        assert_int_equal(look(&w, 100, PACE_CPU_BOUND_MS - 1, 2), PACE_REPORT_NONE);
        assert_int_equal(look(&w, 300, PACE_CPU_BOUND_MS, 2), PACE_REPORT_CPU_BOUND);
        /* Still busy over a whole window: nothing. */
        assert_int_equal(look(&w, 300 + PACE_CPU_BOUND_MS, 2 * PACE_CPU_BOUND_MS, 2), PACE_REPORT_NONE);
        /* A window not over yet says nothing, however quiet. */
        uint64_t t = 300 + PACE_CPU_BOUND_MS;
        assert_int_equal(look(&w, t + 100, 2 * PACE_CPU_BOUND_MS, 2), PACE_REPORT_NONE);
        /* A whole window with less than PACE_IDLE_CPU_MS: idle. */
        assert_int_equal(look(&w, t + PACE_CPU_BOUND_MS, 2 * PACE_CPU_BOUND_MS + PACE_IDLE_CPU_MS - 1, 2),
                         PACE_REPORT_IDLE);
        uint64_t base = 2 * PACE_CPU_BOUND_MS + PACE_IDLE_CPU_MS - 1;
        /* Measured afresh from there. */
        assert_int_equal(look(&w, t + 400, base + PACE_CPU_BOUND_MS - 1, 2), PACE_REPORT_NONE);
        assert_int_equal(look(&w, t + 500, base + PACE_CPU_BOUND_MS, 2), PACE_REPORT_CPU_BOUND);
}

/* A bound execution starved of CPU on a crowded host uses little of it,
 * but waits for it: that is no idleness. */
static void test_starved_is_not_idle(void **state) {
        (void)state;
        struct pace_watch w;
        pace_watch_begin(&w, 0, 7);
        assert_int_equal(look(&w, 300, 300, 2), PACE_REPORT_CPU_BOUND);
        for (uint64_t t = 325; t < 300 + PACE_CPU_BOUND_MS; t += 25)
                assert_int_equal(look_r(&w, t, 301, 2, t % 50 ? 1 : 0), PACE_REPORT_NONE);
        assert_int_equal(look_r(&w, 300 + PACE_CPU_BOUND_MS, 305, 2, 1), PACE_REPORT_NONE);
        /* The next window asleep: idle. */
        for (uint64_t t = 575; t < 550 + PACE_CPU_BOUND_MS; t += 25)
                assert_int_equal(look_r(&w, t, 306, 2, t == 600), PACE_REPORT_NONE);
        assert_int_equal(look_r(&w, 550 + PACE_CPU_BOUND_MS, 306, 2, 0), PACE_REPORT_IDLE);
}

static void test_paused_time_is_not_idleness(void **state) {
        (void)state;
        struct pace_watch w;
        pace_watch_begin(&w, 0, 7);
        assert_int_equal(look(&w, 300, 300, 2), PACE_REPORT_CPU_BOUND);
        pace_watch_pause(&w, true, 310);
        assert_int_equal(w.next_ms, 310 + PACE_TICK_MS); /* the baseline a tick after the stop */
        assert_int_equal(look(&w, 335, 305, 2), PACE_REPORT_NONE);
        assert_int_equal(look(&w, 2000, 305, 2), PACE_REPORT_NONE);
        pace_watch_pause(&w, false, 2000);
        /* The window starts again at the resume: quiet for less than a
         * window is no IDLE, though the last window began long ago. */
        assert_int_equal(look(&w, 2100, 315, 2), PACE_REPORT_NONE);
        assert_int_equal(look(&w, 2000 + PACE_CPU_BOUND_MS, 320, 2), PACE_REPORT_IDLE);
}

/* CPU-bound at 300 ms with 300 ms of CPU and processes up to ID 5, then
 * paused at 300. */
static void bound_and_stopped(struct pace_watch *w) {
        pace_watch_begin(w, 0, 7);
        assert_int_equal(look(w, 300, 300, 5), PACE_REPORT_CPU_BOUND);
        pace_watch_pause(w, true, 300);
}

/* ... and the first look after the pause (the baseline, a tick later,
 * every process stopped) found cpu_ms. */
static void bound_then_paused(struct pace_watch *w, uint64_t cpu_ms) {
        bound_and_stopped(w);
        assert_int_equal(look(w, 300 + PACE_TICK_MS, cpu_ms, 5), PACE_REPORT_NONE);
}

static void test_paused_cpu_is_an_escape(void **state) {
        (void)state;
        struct pace_watch w;
        bound_then_paused(&w, 330);
        assert_int_equal(look(&w, 330, 330 + PACE_ESCAPE_CPU_MS, 5), PACE_REPORT_NONE);
        assert_int_equal(look(&w, 360, 330 + PACE_ESCAPE_CPU_MS + 1, 5), PACE_REPORT_ESCAPED);
}

/* A process in a long system call when the stop came runs on until it
 * returns: the baseline waits for every process to have stopped, and
 * PACE_SETTLE_MS at most. */
static void test_paused_baseline_waits_for_every_stop(void **state) {
        (void)state;
        struct pace_watch w;
        bound_and_stopped(&w);
        struct pace_sample busy = { .cpu_ms = 450, .max_pid = 5, .runnable = 1, .unstopped = 1 };
        assert_int_equal(pace_watch_look(&w, 325, &busy), PACE_REPORT_NONE);
        busy.cpu_ms = 700;
        assert_int_equal(pace_watch_look(&w, 500, &busy), PACE_REPORT_NONE);
        /* All stopped: the baseline; then CPU is an escape again. */
        assert_int_equal(look(&w, 520, 720, 5), PACE_REPORT_NONE);
        assert_int_equal(look(&w, 540, 720 + PACE_ESCAPE_CPU_MS + 1, 5), PACE_REPORT_ESCAPED);
        /* One that never stops: the baseline PACE_SETTLE_MS after the stop. */
        bound_and_stopped(&w);
        for (uint64_t t = 325; t < 300 + PACE_SETTLE_MS; t += 25) {
                busy.cpu_ms = t;
                assert_int_equal(pace_watch_look(&w, t, &busy), PACE_REPORT_NONE);
        }
        busy.cpu_ms = 2000;
        assert_int_equal(pace_watch_look(&w, 300 + PACE_SETTLE_MS, &busy), PACE_REPORT_NONE);
        busy.cpu_ms = 2000 + PACE_ESCAPE_CPU_MS + 1;
        assert_int_equal(pace_watch_look(&w, 325 + PACE_SETTLE_MS, &busy), PACE_REPORT_ESCAPED);
}

static void test_paused_new_process_is_an_escape(void **state) {
        (void)state;
        struct pace_watch w;
        bound_then_paused(&w, 300);
        /* A process gone is no escape, nor a child of a fork that ended
         * just after the stop; new processes are. */
        assert_int_equal(look(&w, 330, 300, 4), PACE_REPORT_NONE);
        assert_int_equal(look(&w, 360, 300, 5 + PACE_ESCAPE_PIDS), PACE_REPORT_NONE);
        assert_int_equal(look(&w, 390, 300, 6 + PACE_ESCAPE_PIDS), PACE_REPORT_ESCAPED);
        /* Resumed, new processes are the program's business. */
        bound_then_paused(&w, 300);
        pace_watch_pause(&w, false, 400);
        assert_int_equal(look(&w, 420, 320, 50), PACE_REPORT_NONE);
}

/* Process IDs no process has (past the kernel's largest pid_max), so
 * that nothing is read about them from this host's /proc. */
#define P(n) (4200000 + (n))

/* One look: (pid, ppid, start, own ns, reaped ns) of each live process. */
static uint64_t tally_look(struct pace_tally *t, size_t n, const uint64_t (*procs)[5]) {
        pace_tally_begin(t);
        for (size_t i = 0; i < n; i++)
                pace_tally_add(t, (int)procs[i][0], (int)procs[i][1], procs[i][2], procs[i][3], procs[i][4]);
        pace_tally_end(t);
        return t->total_ns;
}

/* The count only goes up: a child that burns and exits leaves what it was
 * seen to use; a reused ID is a new process. */
static void test_tally_keeps_what_the_gone_used(void **state) {
        (void)state;
        static struct pace_tally t;
        t = (struct pace_tally){ 0 };
        assert_int_equal(tally_look(&t, 1, (const uint64_t[][5]){ { P(2), 1, 100, 5, 0 } }), 5);
        assert_int_equal(tally_look(&t, 2, (const uint64_t[][5]){ { P(2), 1, 100, 6, 0 }, { P(3), 1, 150, 4, 0 } }), 10);
        assert_int_equal(tally_look(&t, 2, (const uint64_t[][5]){ { P(2), 1, 100, 6, 0 }, { P(3), 1, 150, 9, 0 } }), 15);
        /* P(3) is gone: its 9 stay. */
        assert_int_equal(tally_look(&t, 1, (const uint64_t[][5]){ { P(2), 1, 100, 6, 0 } }), 15);
        assert_int_equal(t.n, 1u);
        /* ID P(3) again, started later: a new process. */
        assert_int_equal(tally_look(&t, 2, (const uint64_t[][5]){ { P(2), 1, 100, 6, 0 }, { P(3), 1, 400, 2, 0 } }), 17);
        /* Never down, whatever a stat says. */
        assert_int_equal(tally_look(&t, 2, (const uint64_t[][5]){ { P(2), 1, 100, 1, 0 }, { P(3), 1, 400, 2, 0 } }), 17);
        assert_int_equal(tally_look(&t, 2, (const uint64_t[][5]){ { P(2), 1, 100, 7, 0 }, { P(3), 1, 400, 2, 0 } }), 18);
}

/* A child seen alive and then waited for counts once: what was counted
 * for it comes off its parent's reaped time, whether the wait shows in the
 * look that finds the child gone or in the next; what the child used
 * after it was last seen still counts. */
static void test_tally_counts_a_child_waited_for_once(void **state) {
        (void)state;
        static struct pace_tally t;
        t = (struct pace_tally){ 0 };
        assert_int_equal(tally_look(&t, 2, (const uint64_t[][5]){ { P(2), 1, 100, 10, 0 }, { P(3), P(2), 150, 40, 0 } }), 50);
        /* Waited for: 50 in all, 40 of them seen. */
        assert_int_equal(tally_look(&t, 1, (const uint64_t[][5]){ { P(2), 1, 100, 10, 50 } }), 60);
        /* The credit was used up: a later child waited for counts whole. */
        assert_int_equal(tally_look(&t, 1, (const uint64_t[][5]){ { P(2), 1, 100, 10, 80 } }), 90);
        /* The wait after the parent's read: gone in one look, its time in
         * the parent's the next. */
        assert_int_equal(tally_look(&t, 2, (const uint64_t[][5]){ { P(2), 1, 100, 10, 80 }, { P(4), P(2), 200, 20, 0 } }), 110);
        assert_int_equal(tally_look(&t, 1, (const uint64_t[][5]){ { P(2), 1, 100, 10, 80 } }), 110);
        assert_int_equal(tally_look(&t, 1, (const uint64_t[][5]){ { P(2), 1, 100, 10, 105 } }), 115);
}

/* Nested: a grandchild waited for by a child waited for by the program,
 * each seen alive once; each level's reaped time holds the level below.
 * The child's credit is what was counted for the child itself, so the
 * grandchild's seen 30 count twice (53 used, 83 counted): a credit passes
 * one level up. */
static void test_tally_counts_nested_waits_at_most_twice(void **state) {
        (void)state;
        static struct pace_tally t;
        t = (struct pace_tally){ 0 };
        tally_look(&t, 3, (const uint64_t[][5]){ { P(2), 1, 100, 10, 0 }, { P(3), P(2), 150, 5, 0 }, { P(4), P(3), 160, 30, 0 } });
        assert_int_equal(t.total_ns, 45);
        /* The grandchild ends at 35, waited for by the child. */
        assert_int_equal(tally_look(&t, 2, (const uint64_t[][5]){ { P(2), 1, 100, 10, 0 }, { P(3), P(2), 150, 6, 35 } }), 51);
        /* The child ends at 8, waited for by the program: 8 + 35, less
         * the child's own 6 and its uncredited 5. */
        assert_int_equal(tally_look(&t, 1, (const uint64_t[][5]){ { P(2), 1, 100, 10, 43 } }), 83);
}

/* A chain whose every parent has its child reaped without a wait (as
 * SA_NOCLDWAIT does, which /proc does not show) and waits for others no
 * look sees: the seen child's credit hides the others' time once, and is
 * not spent again a level up. 100 used by the seen child, 100 by the
 * others at each level: 310 used, 210 counted (110 if credits passed
 * on). */
static void test_tally_credit_is_not_spent_twice(void **state) {
        (void)state;
        static struct pace_tally t;
        t = (struct pace_tally){ 0 };
        tally_look(&t, 3, (const uint64_t[][5]){ { P(2), 1, 100, 10, 0 }, { P(3), P(2), 150, 0, 0 }, { P(4), P(3), 160, 100, 0 } });
        assert_int_equal(t.total_ns, 110);
        /* P(4) reaped without a wait; P(3) waited for 100 no look saw. */
        assert_int_equal(tally_look(&t, 2, (const uint64_t[][5]){ { P(2), 1, 100, 10, 0 }, { P(3), P(2), 150, 0, 100 } }), 110);
        /* P(3) reaped without a wait; the program waited for 100 no look saw. */
        assert_int_equal(tally_look(&t, 1, (const uint64_t[][5]){ { P(2), 1, 100, 10, 100 } }), 210);
}

/* A credit lasts one look more, no longer: a child its parent never
 * waited for (the wait never came) does not take a later child's time. */
static void test_tally_credit_lasts_one_look_more(void **state) {
        (void)state;
        static struct pace_tally t;
        t = (struct pace_tally){ 0 };
        tally_look(&t, 2, (const uint64_t[][5]){ { P(2), 1, 100, 10, 0 }, { P(3), P(2), 150, 40, 0 } });
        tally_look(&t, 1, (const uint64_t[][5]){ { P(2), 1, 100, 10, 0 } });
        tally_look(&t, 1, (const uint64_t[][5]){ { P(2), 1, 100, 10, 0 } });
        assert_int_equal(t.total_ns, 50);
        assert_int_equal(tally_look(&t, 1, (const uint64_t[][5]){ { P(2), 1, 100, 10, 30 } }), 80);
}

/* An orphan the init reaps (parent 1) credits no one. */
static void test_tally_orphan_credits_no_one(void **state) {
        (void)state;
        static struct pace_tally t;
        t = (struct pace_tally){ 0 };
        tally_look(&t, 2, (const uint64_t[][5]){ { P(2), 1, 100, 10, 0 }, { P(3), 1, 150, 40, 0 } });
        assert_int_equal(tally_look(&t, 1, (const uint64_t[][5]){ { P(2), 1, 100, 10, 25 } }), 75);
}

/* A parent that ignores SIGCHLD (its children are reaped by no one) gets
 * no credit for them: its reaped time can only come from others. Here a
 * real process, so that its /proc/<pid>/status says so. */
static void test_tally_no_credit_where_sigchld_is_ignored(void **state) {
        (void)state;
        static struct pace_tally t;
        int ready[2];
        assert_int_equal(pipe(ready), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                signal(SIGCHLD, SIG_IGN);
                (void)!write(ready[1], "x", 1);
                pause();
                _exit(0);
        }
        char c;
        assert_int_equal(read(ready[0], &c, 1), 1);
        t = (struct pace_tally){ 0 };
        tally_look(&t, 2, (const uint64_t[][5]){ { (uint64_t)pid, 1, 100, 10, 0 }, { P(3), (uint64_t)pid, 150, 40, 0 } });
        assert_int_equal(tally_look(&t, 1, (const uint64_t[][5]){ { (uint64_t)pid, 1, 100, 10, 30 } }), 80);
        kill(pid, SIGKILL);
        assert_int_equal(waitpid(pid, NULL, 0), pid);
        close(ready[0]);
        close(ready[1]);
}

/* A process that used a few ms -- under one clock tick, which is 0 in
 * /proc/<pid>/stat's utime and stime -- counts all of it when the init
 * reaps it: read from its CPU clock while it is a zombie. */
static void burn_ms(long ms) {
        struct timespec ts;
        do
                clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        while (ts.tv_sec == 0 && ts.tv_nsec < ms * 1000000L);
}

/* Fork a child that burns child_ms, after waiting for a grandchild that
 * burned grandchild_ms (0: none); the init's read of the zombie child. */
static uint64_t reaped_count(long child_ms, long grandchild_ms) {
        static struct pace_tally t;
        t = (struct pace_tally){ 0 };
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                if (grandchild_ms) {
                        pid_t g = fork();
                        if (g == 0) {
                                burn_ms(grandchild_ms);
                                _exit(0);
                        }
                        if (g < 0 || waitpid(g, NULL, 0) != g)
                                _exit(1);
                }
                burn_ms(child_ms);
                _exit(0);
        }
        siginfo_t si = { 0 };
        assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
        assert_int_equal(si.si_status, 0);
        pace_tally_reaped(&t, pid);
        assert_int_equal(waitpid(pid, NULL, 0), pid);
        uint64_t total = t.total_ns;
        /* Reaped: nothing more to read, nothing added. */
        pace_tally_reaped(&t, pid);
        assert_true(t.total_ns == total);
        assert_int_equal(t.n, 1u);
        return total;
}

static void test_reaped_counts_under_a_tick(void **state) {
        (void)state;
        uint64_t ns = reaped_count(4, 0);
        assert_true(ns >= 4000000 && ns < 1000000000);
}

/* What a process waited for is in its count: a grandchild no look saw. */
static void test_reaped_counts_what_it_waited_for(void **state) {
        (void)state;
        uint64_t ns = reaped_count(1, 40);
        /* 40 ms in whole 10 ms ticks, rounded down, and the child's own */
        assert_true(ns >= 30000000 + 1000000 && ns < 1000000000);
}

/* The admission lock, two open file descriptions as two instances. */
static char path[64];

static int setup(void **state) {
        (void)state;
        snprintf(path, sizeof path, "/tmp/test-pace-XXXXXX");
        int fd = mkstemp(path);
        if (fd < 0)
                return -1;
        close(fd);
        return 0;
}

static int teardown(void **state) {
        (void)state;
        unlink(path);
        return 0;
}

static void test_newcomer_queues_behind_paused(void **state) {
        (void)state;
        int a = admit_open(path), b = admit_open(path);
        assert_true(a >= 0 && b >= 0);
        unsigned fresh, bound;
        /* A paused execution at the head of the line holds the turnstile. */
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = ADMIT_LONG_TURNSTILE_OFFSET,
                            .l_len = 1 };
        assert_int_equal(fcntl(a, F_OFD_SETLK, &fl), 0);
        assert_int_equal(admit_take_long(b, 2), -EAGAIN);
        assert_int_equal(admit_count_pools(a, &fresh, &bound), 0);
        assert_int_equal(bound, 0);
        /* No one waiting: the free place is taken, the turnstile let go. */
        fl.l_type = F_UNLCK;
        assert_int_equal(fcntl(a, F_OFD_SETLK, &fl), 0);
        assert_int_equal(admit_take_long(b, 2), 0);
        assert_int_equal(admit_count_pools(a, &fresh, &bound), 0);
        assert_int_equal(bound, 1);
        fl.l_type = F_WRLCK;
        assert_int_equal(fcntl(a, F_OFD_SETLK, &fl), 0);
        close(a);
        close(b);
}

/* An execution paced on fd with one CPU-bound place, found CPU-bound:
 * what its first step at now says. */
static enum pace_action bound_step(struct pace *p, int fd, uint64_t now) {
        enum pace_action act;
        pace_begin(p, fd, 1, 0);
        pace_cpu_bound(p);
        pace_step(p, now, &act);
        return act;
}

static void test_idle_gives_the_place_back(void **state) {
        (void)state;
        int fd = admit_open(path), probe = admit_open(path);
        assert_true(fd >= 0 && probe >= 0);
        struct pace p;
        assert_int_equal(bound_step(&p, fd, 10), PACE_NONE);
        assert_true(p.holds_long);
        unsigned fresh, bound;
        assert_int_equal(admit_count_pools(probe, &fresh, &bound), 0);
        assert_int_equal(bound, 1);
        pace_cpu_idle(&p);
        assert_false(p.holds_long || p.cpu_bound);
        assert_int_equal(admit_count_pools(probe, &fresh, &bound), 0);
        assert_int_equal(bound, 0);
        /* Bound again: takes a place again. */
        enum pace_action act;
        pace_cpu_bound(&p);
        pace_step(&p, 20, &act);
        assert_true(p.holds_long);
        pace_end(&p, 30);
        assert_int_equal(admit_count_pools(probe, &fresh, &bound), 0);
        assert_int_equal(bound, 0);
        close(fd);
        close(probe);
}

/* Killed while paused (PACING, REALTIME, a client gone): the pause so far
 * is in paused_ms, as it is when one ends. */
static void test_killed_while_paused_counts_the_pause(void **state) {
        (void)state;
        int holder = admit_open(path), fd = admit_open(path);
        assert_true(holder >= 0 && fd >= 0);
        assert_int_equal(admit_take_long(holder, 1), 0);
        struct pace p;
        assert_int_equal(bound_step(&p, fd, 100), PACE_PAUSE);
        pace_end(&p, 600);
        assert_int_equal(p.paused_ms, 500);
        assert_false(p.paused);
        close(fd);
        close(holder);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_looks_on_a_jittered_clock),
                cmocka_unit_test(test_tally_keeps_what_the_gone_used),
                cmocka_unit_test(test_tally_counts_a_child_waited_for_once),
                cmocka_unit_test(test_tally_counts_nested_waits_at_most_twice),
                cmocka_unit_test(test_tally_credit_is_not_spent_twice),
                cmocka_unit_test(test_tally_credit_lasts_one_look_more),
                cmocka_unit_test(test_tally_orphan_credits_no_one),
                cmocka_unit_test(test_tally_no_credit_where_sigchld_is_ignored),
                cmocka_unit_test(test_reaped_counts_under_a_tick),
                cmocka_unit_test(test_reaped_counts_what_it_waited_for),
                cmocka_unit_test(test_cpu_bound_then_idle_then_bound),
                cmocka_unit_test(test_starved_is_not_idle),
                cmocka_unit_test(test_paused_time_is_not_idleness),
                cmocka_unit_test(test_paused_cpu_is_an_escape),
                cmocka_unit_test(test_paused_new_process_is_an_escape),
                cmocka_unit_test(test_paused_baseline_waits_for_every_stop),
                cmocka_unit_test_setup_teardown(test_newcomer_queues_behind_paused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_idle_gives_the_place_back, setup, teardown),
                cmocka_unit_test_setup_teardown(test_killed_while_paused_counts_the_pause, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
