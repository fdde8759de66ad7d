/* SPDX-License-Identifier: Apache-2.0 */
/* Admission control: at most N executions run at once on a host;
 * further requests wait, in arrival order and without an interpreter, for
 * a bounded time; a waiter whose client hung up leaves the queue. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* How often the head of the queue looks for a freed slot (and its client);
 * everyone behind it sleeps in the kernel. */
#define ADMIT_POLL_MS 2

/* HTTP/1.0 (no probe): a client whose sending side shuts this soon after
 * its request half-closed (and waits for the answer); later, it gave up. */
#define ADMIT_HALF_CLOSE_GRACE_MS 1000

/* The probe: what an HTTP/1.1 client whose sending side shut (FIN) is
 * written, once, to tell a half-close from a close -- an interim response
 * every HTTP/1.1 client must skip (RFC 9110 15.2). A client that closed
 * answers it with a reset; one that half-closed reads on. */
#define ADMIT_PROBE "HTTP/1.1 100 Continue\r\n\r\n"

/* A client watched while its request waits and runs (the same one
 * through both, so it is probed once at most). */
struct admit_client {
        int fd;            /* -1: none */
        uint64_t since_ns; /* the request complete (CLOCK_MONOTONIC): the grace counts from here */
        const char *probe; /* ADMIT_PROBE, or NULL: never one (HTTP/1.0) */
        bool probed;       /* the probe is written: the answer may follow it only */
        bool shut;         /* its FIN taken for a half-close: only a reset now */
};

/* One look at the client, without blocking: whether it is gone -- a reset
 * or failure; or, its FIN here: with a probe, the probe's write failing
 * (else the probe is written and the client is watched for the reset a
 * closed client answers it with); without, a FIN later than
 * ADMIT_HALF_CLOSE_GRACE_MS. A FIN not taken as gone leaves it shut. */
bool admit_client_gone(struct admit_client *c);
/* The poll events that watch it: its FIN and failures, or once shut,
 * failures only (poll always reports POLLHUP and POLLERR). */
short admit_client_events(const struct admit_client *c);

/* Bytes of the lock file: the turnstile every waiter queues on, and slot k
 * (0-based) at ADMIT_SLOT_BASE + k, far from the turnstile so a holder's
 * two locks are never adjacent (the kernel would merge them). */
#define ADMIT_TURNSTILE_OFFSET 0
#define ADMIT_SLOT_BASE 4096
#define ADMIT_MAX_SLOTS 1024
/* A request that cannot go straight to a slot holds one byte of
 * ADMIT_WAIT_BASE + [0, ADMIT_MAX_WAITERS) while it waits, so the queue's
 * length is the kernel's to tell (admit_count); past that many it waits
 * uncounted. */
#define ADMIT_WAIT_BASE 8192
#define ADMIT_MAX_WAITERS 4096
/* Two more pools of ADMIT_MAX_SLOTS bytes each, held with a slot: a
 * starting execution holds a FRESH byte from its admission until its
 * first PACE_FRESH_MS are over; a CPU-bound one (pace.h) holds a LONG
 * byte from then to its end. */
#define ADMIT_FRESH_BASE 16384
#define ADMIT_LONG_BASE 20480
/* The turnstile CPU-bound executions waiting for a LONG byte queue on. */
#define ADMIT_LONG_TURNSTILE_OFFSET 2048

struct admit_ticket {
        int fd;   /* the lock file's open file description; -1: no slot */
        int slot; /* 0-based */
};
#define ADMIT_TICKET_NULL ((struct admit_ticket){ .fd = -1, .slot = -1 })

/* Take one of `slots` execution slots of lock_path (created 0600 if
 * missing) and, when `fresh` is not 0, one of `fresh` FRESH bytes with it,
 * waiting at most timeout_ms (0: do not wait). client is the
 * connection whose departure ends the wait (NULL: none), as
 * admit_client_gone() tells, looked at before the wait, at each SIGIO
 * and at the head of the queue.
 *
 * Returns 0 with *ticket holding the slot until admit_leave(), -ETIMEDOUT
 * when no slot freed in time, -ECONNABORTED when the client went away
 * first, or another -errno. *waited_ms is set in every case. Uses SIGALRM
 * and SIGIO (handlers, an interval timer and O_ASYNC on client_fd) only
 * while it waits, and restores all of them before returning. */
int admit_enter(const char *lock_path, unsigned slots, unsigned fresh, uint64_t timeout_ms, struct admit_client *client,
                struct admit_ticket *ticket, uint64_t *waited_ms);

/* The same in two steps, for a process that may not open files when it
 * waits (privsep.c's unprivileged side): the lock file opened (created
 * 0600 if missing) beforehand -- an fd, or -errno -- and the wait on it.
 * admit_enter_fd() takes lock_fd over in every case. */
int admit_open(const char *lock_path);
int admit_enter_fd(int lock_fd, unsigned slots, unsigned fresh, uint64_t timeout_ms, struct admit_client *client,
                   struct admit_ticket *ticket,
                   uint64_t *waited_ms);

/* Slots held and requests waiting now, read from the kernel's locks on
 * the lock file (lock_fd: its own open file description, holding no lock):
 * a process killed at any point is in neither once it is gone. 0 or
 * -errno. */
int admit_count(int lock_fd, unsigned *running, unsigned *waiting);

/* Pacing (pace.c), on an open file description shared with the ticket's
 * holder: give up its FRESH byte, or its LONG byte; take one of n LONG
 * bytes without waiting (0, or -EAGAIN when all are taken or a paused
 * execution waits for one: those come first); and at the end let go of
 * every byte it holds (slot, FRESH, LONG), so the slot is free even while
 * a copy of the descriptor stays open somewhere. */
void admit_leave_fresh(int lock_fd);
void admit_leave_long(int lock_fd);
void admit_leave_pacing(int lock_fd); /* FRESH and LONG */
int admit_take_long(int lock_fd, unsigned n);
/* Wait for one of n LONG bytes, in arrival order (the turnstile at
 * ADMIT_LONG_TURNSTILE_OFFSET, as admission's), asking give_up(userdata)
 * every ADMIT_LONG_LOOK_MS. 0 with the byte held, -ECANCELED when
 * give_up() said so, or -errno. Uses SIGALRM (a handler and an interval
 * timer) while it waits, and restores both. */
#define ADMIT_LONG_LOOK_MS 20
int admit_wait_long(int lock_fd, unsigned n, bool (*give_up)(void *userdata), void *userdata);
void admit_release_all(int lock_fd);

/* FRESH and LONG bytes held now, as admit_count(). */
int admit_count_pools(int lock_fd, unsigned *fresh, unsigned *cpu_bound);

/* Free the slot (closing the lock file drops the lock; so does any death of
 * the process, kill -9 included). Fine on ADMIT_TICKET_NULL. */
void admit_leave(struct admit_ticket *ticket);
