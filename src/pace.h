/* SPDX-License-Identifier: Apache-2.0 */
/* Pacing of one running execution: what it holds of the host's execution
 * pools (admit.h) as it goes, so that a quick execution is not held behind
 * slow ones and CPU-bound ones are not spread thin.
 *
 *  - starting: admitted with a slot and a FRESH byte; the FRESH byte is
 *    given back after PACE_FRESH_MS of its wall time (or when it ends),
 *    so at most max_starting_executions compete with the running ones for
 *    the CPU at their start, and a sleeping or blocked execution stops
 *    counting against newcomers once its start is over;
 *  - CPU-bound: once its processes have used PACE_CPU_BOUND_MS of CPU time
 *    (its init reads that from its namespace's /proc: the supervisor's own
 *    procfs shows it no process of another uid) it runs only while it
 *    holds one of max_cpu_bound_executions LONG bytes; without one it is
 *    paused -- its init stops every other process of the namespace -- and
 *    waits for one, in arrival order (a newcomer does not pass the paused
 *    ones). A paused execution's REALTIME clock does not run: REALTIME
 *    bounds the time the program is let run, as the time it queued is not
 *    counted either. One that then uses less than PACE_IDLE_CPU_MS of CPU
 *    in PACE_CPU_BOUND_MS of wall time, not for want of a CPU (runnable at
 *    fewer than half the looks), gives its LONG byte back and is measured
 *    afresh (a sleeper does not keep a place);
 *  - a pause is a SIGSTOP, which the program can undo (a SIGCONT timer, an
 *    orphaned stopped process group): the init keeps looking while it is
 *    paused, and a paused execution whose processes use CPU
 *    (PACE_ESCAPE_CPU_MS) or make processes (PACE_ESCAPE_PIDS), from a
 *    look a tick after the stop on that found them all stopped, is killed
 *    ("PACING").
 *
 * The bytes are taken and given back on the open file description of the
 * admission lock that the parsing child's ticket holds (privsep.c opens it
 * before the split), so kill -9 of either process leaks nothing. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define PACE_FRESH_MS 250
#define PACE_CPU_BOUND_MS 250
#define PACE_IDLE_CPU_MS 25
#define PACE_ESCAPE_CPU_MS 100
/* New process IDs a paused namespace may show: a fork racing with the stop
 * ends after it, its child stopped too (one per forking process). */
#define PACE_ESCAPE_PIDS 8
/* A stop takes hold when a process leaves the kernel: one in a long system
 * call (a read or write of hundreds of MB) runs on until it returns. The
 * paused namespace's baseline waits for every process to have stopped,
 * this long at most. */
#define PACE_SETTLE_MS 1000
/* How often, on average, the init reads its namespace's CPU time: every
 * PACE_TICK_MS / 2 to 3 * PACE_TICK_MS / 2, at random, on a clock of its
 * own (a storm of SIGCHLD does not put a look off). */
#define PACE_TICK_MS 25

/* The supervisor's side. */
struct pace {
        int lock_fd;              /* -1: not paced */
        unsigned cpu_bound_slots; /* 0: no LONG bound */
        uint64_t fresh_until_ms, paused_since_ms, paused_ms;
        bool fresh, cpu_bound, holds_long, paused;
};

enum pace_action { PACE_NONE, PACE_PAUSE, PACE_RESUME };

/* Pace the execution started at now_ms; lock_fd (not taken over) holds its
 * FRESH byte; -1: not paced. */
void pace_begin(struct pace *p, int lock_fd, unsigned cpu_bound_slots, uint64_t now_ms);

/* Its init reported PACE_CPU_BOUND_MS of CPU time used; or, once
 * CPU-bound, that it has mostly slept since: its LONG byte goes back. */
void pace_cpu_bound(struct pace *p);
void pace_cpu_idle(struct pace *p);

/* What is due at now_ms: the FRESH byte given back, a LONG byte taken if
 * one is free; if none is, *act says the caller must pause the execution
 * now and then wait for one (pace_wait_long()). Returns when to look next
 * (absolute ms; UINT64_MAX: never). */
uint64_t pace_step(struct pace *p, uint64_t now_ms, enum pace_action *act);

/* A paused execution waits, in arrival order among the paused ones of the
 * host, for a LONG byte, asking give_up(userdata) (its client gone, its
 * init dead: the caller has to look) every ADMIT_LONG_LOOK_MS. PACE_RESUME
 * with the byte held -- the caller resumes it; *deadline (REALTIME;
 * UINT64_MAX: none) moved by the time paused -- or PACE_NONE, still
 * paused. */
enum pace_action pace_wait_long(struct pace *p, bool (*give_up)(void *userdata), void *userdata,
                                uint64_t *deadline, uint64_t (*now_ms)(void));

/* The program is over or killed at now_ms (a paused one dies stopped, its
 * pause counted in paused_ms): its FRESH and LONG bytes given back. The
 * slot stays with the ticket. */
void pace_end(struct pace *p, uint64_t now_ms);

/* The init's side. Its running count of the namespace's CPU time: each
 * process's own time, in ns from its process CPU clock, and what the
 * children it waited for used (its reaped time), added as they grow and
 * kept when the process is gone (a count that only goes up: a process
 * that exits, however reaped, takes nothing out of it). A process the init
 * reaps (an orphan) is counted whole, from its clock as a zombie; a child
 * waited for by its parent between two looks reaches the count through
 * its parent's reaped time. A child a look saw alive is counted as seen,
 * and its parent, unless it ignores SIGCHLD, is credited with what was
 * counted for the child itself: the growth of the parent's reaped time
 * over this look and the next takes the credit off first, so a child
 * waited for counts once (a grandchild seen alive twice: a credit passes
 * one level up, no further). What a child reaped by no one used after the
 * last look that saw it is lost, and so is such a child born and gone
 * between two looks; a parent that has such children reaped for it
 * without ignoring SIGCHLD (SA_NOCLDWAIT) has their credit taken off its
 * other children's time, at most what was counted for them. Processes
 * past PACE_TALLY_MAX at once (NPROC is far lower) are counted whole at
 * every look. */
#define PACE_TALLY_MAX 1024
struct pace_tally {
        uint64_t total_ns;
        unsigned n;
        bool looking; /* between pace_tally_begin() and pace_tally_end() */
        struct pace_seen {
                int pid, ppid;
                bool seen;
                uint64_t start; /* its start time tells a reused ID */
                uint64_t own_ns, reaped_ns; /* the most seen of each */
                uint64_t pending_ns; /* reaped time's growth in this look */
                uint64_t absorbed_ns; /* of that growth, what credits took off */
                uint64_t credit_ns, credit_new_ns; /* last look's, this look's */
        } p[PACE_TALLY_MAX];
};
void pace_tally_begin(struct pace_tally *t);
void pace_tally_add(struct pace_tally *t, int pid, int ppid, uint64_t start, uint64_t own_ns, uint64_t reaped_ns);
void pace_tally_end(struct pace_tally *t);
/* The init is about to reap pid, a zombie of the namespace: all it used. */
void pace_tally_reaped(struct pace_tally *t, int pid);

/* What one look at its PID namespace's /proc finds: the count above, in
 * ms; the highest process ID alive (IDs are given out in rising order: a
 * higher one is a new process); how many are runnable. 0 or -errno; only
 * ever in the init of a PID namespace. */
struct pace_sample {
        uint64_t cpu_ms;
        int max_pid;
        unsigned runnable; /* processes running or waiting for a CPU ('R') */
        unsigned unstopped; /* processes neither stopped nor dead */
};
int pace_namespace_look(struct pace_tally *t, struct pace_sample *s);

/* What the init makes of its looks. */
struct pace_watch {
        uint64_t next_ms, rnd;
        uint64_t base_cpu_ms;                   /* measuring: CPU when it began */
        uint64_t last_cpu_ms;                   /* the last look's */
        uint64_t window_ms, window_cpu_ms;      /* CPU-bound: the window's start */
        unsigned window_looks, window_runnable; /* its looks, those that found one runnable */
        uint64_t paused_at_ms, paused_cpu_ms;   /* paused: when; the baseline look's */
        int paused_max_pid;
        bool bound, paused, paused_seen;
};

enum pace_report { PACE_REPORT_NONE, PACE_REPORT_CPU_BOUND, PACE_REPORT_IDLE, PACE_REPORT_ESCAPED };

void pace_watch_begin(struct pace_watch *w, uint64_t now_ms, uint64_t seed);
/* The supervisor paused or resumed the execution. */
void pace_watch_pause(struct pace_watch *w, bool paused, uint64_t now_ms);
/* A look (w->next_ms is when the next is due): what to tell the
 * supervisor. PACE_REPORT_ESCAPED: the init ends the execution. */
enum pace_report pace_watch_look(struct pace_watch *w, uint64_t now_ms, const struct pace_sample *s);
