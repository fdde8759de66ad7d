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
 *    holds one of max_cpu_bound_executions LONG bytes, kept to its end;
 *    without one it is paused -- its init stops every other process of
 *    the namespace -- and waits for one, in arrival order. A paused
 *    execution's REALTIME clock does not run: REALTIME bounds the time the
 *    program is let run, as the time it queued is not counted either.
 *
 * The bytes are taken and given back on the open file description of the
 * admission lock that the parsing child's ticket holds (privsep.c opens it
 * before the split), so kill -9 of either process leaks nothing. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define PACE_FRESH_MS 250
#define PACE_CPU_BOUND_MS 250
/* How often the init reads its namespace's CPU time until it is
 * CPU-bound. */
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

/* Its init reported PACE_CPU_BOUND_MS of CPU time used. */
void pace_cpu_bound(struct pace *p);

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

/* The program is over or killed (a paused one dies stopped): its FRESH
 * and LONG bytes given back. The slot stays with the ticket. */
void pace_end(struct pace *p);

/* The init's side: CPU time used by every process of its PID namespace
 * but itself (and what they reaped), in ms, read from the namespace's
 * /proc. 0 or -errno; only ever in the init of a PID namespace. */
int pace_namespace_cpu_ms(uint64_t *ms);
