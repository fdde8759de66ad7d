/* Admission control (issue 12): at most N executions run at once on a host;
 * further requests wait, in arrival order and without an interpreter, for
 * a bounded time; a waiter whose client hung up leaves the queue. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* How often the head of the queue looks for a freed slot (and its client);
 * everyone behind it sleeps in the kernel. */
#define ADMIT_POLL_MS 2

/* Bytes of the lock file: the turnstile every waiter queues on, and slot k
 * (0-based) at ADMIT_SLOT_BASE + k, far from the turnstile so a holder's
 * two locks are never adjacent (the kernel would merge them). */
#define ADMIT_TURNSTILE_OFFSET 0
#define ADMIT_SLOT_BASE 4096
#define ADMIT_MAX_SLOTS 1024

struct admit_ticket {
        int fd;   /* the lock file's open file description; -1: no slot */
        int slot; /* 0-based */
};
#define ADMIT_TICKET_NULL ((struct admit_ticket){ .fd = -1, .slot = -1 })

/* Take one of `slots` execution slots of lock_path (created 0600 if
 * missing), waiting at most timeout_ms (0: do not wait). client_fd is the
 * connection whose departure ends the wait (-1: none); a client that had
 * already shut its sending side when the wait began is only timed (a
 * half-close cannot be told from a hang-up without writing to it).
 *
 * Returns 0 with *ticket holding the slot until admit_leave(), -ETIMEDOUT
 * when no slot freed in time, -ECONNABORTED when the client went away
 * first, or another -errno. *waited_ms is set in every case. Uses SIGALRM
 * and SIGIO (handlers, an interval timer and O_ASYNC on client_fd) only
 * while it waits, and restores all of them before returning. */
int admit_enter(const char *lock_path, unsigned slots, uint64_t timeout_ms, int client_fd,
                struct admit_ticket *ticket, uint64_t *waited_ms);

/* Free the slot (closing the lock file drops the lock; so does any death of
 * the process, kill -9 included). Fine on ADMIT_TICKET_NULL. */
void admit_leave(struct admit_ticket *ticket);

/* Whether the peer of a connected stream socket is gone: it closed (or shut
 * its sending side), reset, or the socket failed. Never blocks. */
bool admit_peer_gone(int fd);
