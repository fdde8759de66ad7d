/* SPDX-License-Identifier: Apache-2.0 */
/* Admission control: a host-wide FIFO of requests waiting for one
 * of N execution slots, built from OFD byte-range locks on one file in the
 * state dir.
 *
 * Every instance is a separate short-lived process (systemd Accept=yes), in
 * an IPC namespace of its own (so no SysV semaphore is shared), on a
 * read-only root with only the state dir writable: a lock file there is the
 * shared object. OFD locks belong to the open file description, so they
 * vanish with the process -- kill -9 leaks no slot and no place in the queue.
 *
 *  - the turnstile (one byte): each waiter asks for it with F_OFD_SETLKW.
 *    Since Linux 5.0 a blocked request that conflicts with an already
 *    blocked one is queued behind that one (fs/locks.c builds a tree, here a
 *    chain, since every request is the same write lock), and a release
 *    wakes only the requests blocked directly on the released lock: the
 *    waiters form a FIFO and only its head wakes up (test-admit checks both
 *    on the running kernel);
 *  - N slot bytes: the turnstile's holder (the head of the queue) takes the
 *    first free slot with non-blocking F_OFD_SETLK, or, when all are taken,
 *    polls its client for a hang-up for ADMIT_POLL_MS and tries again; once
 *    it has a slot it releases the turnstile, which wakes the next waiter.
 *
 * A waiter asleep in F_OFD_SETLKW is interrupted (EINTR, as no SA_RESTART)
 * by SIGALRM from an interval timer set to its deadline, and by SIGIO from
 * its connection (O_ASYNC): a hang-up (FIN or RST) makes the socket
 * readable or failed. admit_client_gone() then says whether the peer is
 * gone: a reset; a FIN, over TCP a half-close (the client still waits for
 * the answer) or a close alike until written to, is answered with the
 * probe, which a closed client answers with a reset -- the socket fails
 * again, another SIGIO (HTTP/1.0, no probe: a FIN later than
 * ADMIT_HALF_CLOSE_GRACE_MS). After a FIN only failures are watched. A
 * signal can slip in between the last check and the system call; the
 * timer's interval repeats the alarm, and a lost SIGIO only means the
 * waiter notices the hang-up when it reaches the head of the queue (it
 * checks before taking a slot), so no execution happens for a gone client
 * either way. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "admit.h"
#include "macro.h"

/* After the deadline the alarm repeats at this interval (a lost one). */
#define REARM_US 50000

static volatile sig_atomic_t alarm_fired;

static void on_signal(int sig) {
        if (sig == SIGALRM)
                alarm_fired = 1;
        /* SIGIO: nothing to record, the interrupted wait looks at the socket. */
}

#define MS UINT64_C(1000000)

/* CLOCK_MONOTONIC in ns: the deadline is never early by a rounding. */
static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

/* The peer of a connected stream socket, without blocking: there; its
 * sending side shut (FIN: a half-close or a close, over TCP alike); or gone
 * for sure (reset, both directions shut, the socket failed). */
enum admit_peer { ADMIT_PEER_THERE, ADMIT_PEER_SHUT, ADMIT_PEER_GONE };

static enum admit_peer admit_peer_state(int fd) {
        struct pollfd p = { .fd = fd, .events = POLLRDHUP };
        if (poll(&p, 1, 0) <= 0)
                return ADMIT_PEER_THERE;
        if (p.revents & (POLLHUP | POLLERR | POLLNVAL))
                return ADMIT_PEER_GONE;
        return p.revents & POLLRDHUP ? ADMIT_PEER_SHUT : ADMIT_PEER_THERE;
}

bool admit_client_gone(struct admit_client *c) {
        if (c->fd < 0)
                return false;
        struct pollfd p = { .fd = c->fd, .events = admit_client_events(c) };
        if (poll(&p, 1, 0) <= 0)
                return false;
        if (p.revents & (POLLHUP | POLLERR | POLLNVAL))
                return true;
        if (!(p.revents & POLLRDHUP))
                return false;
        if (c->probe && !c->probed) {
                c->probed = c->shut = true;
                ssize_t n = send(c->fd, c->probe, strlen(c->probe), MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0 && errno != EAGAIN)
                        return true; /* EPIPE, ECONNRESET: it closed */
                /* Over loopback the reset is back already. */
                return admit_peer_state(c->fd) == ADMIT_PEER_GONE;
        }
        if (now_ns() - c->since_ns >= ADMIT_HALF_CLOSE_GRACE_MS * MS)
                return true;
        c->shut = true;
        return false;
}

short admit_client_events(const struct admit_client *c) {
        return c->shut ? 0 : POLLRDHUP;
}

static int lock_byte(int fd, off_t offset, bool wait) {
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = offset, .l_len = 1 };
        if (fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl) < 0)
                return errno == EACCES ? -EAGAIN : negative_errno();
        return 0;
}

static void unlock_range(int fd, off_t start, off_t len) {
        struct flock fl = { .l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = start, .l_len = len };
        (void)fcntl(fd, F_OFD_SETLK, &fl);
}

static void unlock_byte(int fd, off_t offset) {
        unlock_range(fd, offset, 1);
}

/* What the blocking wait changes, to be put back; and the client it
 * watches (NULL: none). */
struct waiter {
        bool armed, async;
        struct admit_client *client;
        int client_fd, client_flags; /* -1: none */
        off_t wait_byte; /* held while waiting (admit_count), or -1 */
        struct sigaction old_alrm, old_io;
        struct itimerval old_timer;
        sigset_t old_mask;
};

static bool client_gone(struct waiter *w) {
        return w->client && admit_client_gone(w->client);
}

static void disarm(struct waiter *w) {
        if (!w->armed)
                return;
        /* Sources first, then the handlers: no signal can arrive to a
         * default (terminating) disposition. */
        if (w->async)
                (void)fcntl(w->client_fd, F_SETFL, w->client_flags);
        w->async = false;
        (void)setitimer(ITIMER_REAL, &w->old_timer, NULL);
        (void)sigaction(SIGALRM, &w->old_alrm, NULL);
        (void)sigaction(SIGIO, &w->old_io, NULL);
        (void)sigprocmask(SIG_SETMASK, &w->old_mask, NULL);
        w->armed = false;
}

static int arm(struct waiter *w, uint64_t deadline) {
        struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART: EINTR */
        sigset_t both;
        uint64_t now = now_ns(), left_us = deadline > now ? (deadline - now + 999) / 1000 : 1;
        struct itimerval it = {
                .it_value = { .tv_sec = (time_t)(left_us / 1000000), .tv_usec = (suseconds_t)(left_us % 1000000) },
                .it_interval = { .tv_sec = 0, .tv_usec = REARM_US },
        };

        sigemptyset(&sa.sa_mask);
        sigemptyset(&both);
        sigaddset(&both, SIGALRM);
        sigaddset(&both, SIGIO);
        alarm_fired = 0;
        if (sigaction(SIGALRM, &sa, &w->old_alrm) < 0)
                return negative_errno();
        if (sigaction(SIGIO, &sa, &w->old_io) < 0) {
                int r = negative_errno();
                (void)sigaction(SIGALRM, &w->old_alrm, NULL);
                return r;
        }
        (void)sigprocmask(SIG_UNBLOCK, &both, &w->old_mask);
        w->armed = true;
        if (setitimer(ITIMER_REAL, &it, &w->old_timer) < 0)
                return negative_errno();
        if (w->client_fd >= 0) {
                int fl = fcntl(w->client_fd, F_GETFL);
                if (fl < 0 || fcntl(w->client_fd, F_SETOWN, getpid()) < 0)
                        return negative_errno();
                w->client_flags = fl;
                if (fcntl(w->client_fd, F_SETFL, fl | O_ASYNC) < 0)
                        return negative_errno();
                w->async = true;
        }
        return 0;
}

/* From here on the request waits: it holds a byte of its own among the
 * waiters' (the first free one from a varying start, so a long queue does
 * not make every newcomer try the same taken ones), for admit_count() to
 * count. None free: it waits uncounted. */
static void mark_waiting(int fd, struct waiter *w) {
        if (w->wait_byte >= 0)
                return;
        unsigned start = (unsigned)(now_ns() / 1000) % ADMIT_MAX_WAITERS;
        for (unsigned i = 0; i < ADMIT_MAX_WAITERS; i++) {
                off_t b = ADMIT_WAIT_BASE + (off_t)((start + i) % ADMIT_MAX_WAITERS);
                int r = lock_byte(fd, b, false);
                if (r == 0) {
                        w->wait_byte = b;
                        return;
                }
                if (r != -EAGAIN)
                        return;
        }
}

static void unmark_waiting(int fd, struct waiter *w) {
        if (w->wait_byte >= 0)
                unlock_byte(fd, w->wait_byte);
        w->wait_byte = -1;
}

/* Sleep in the kernel's queue for the turnstile. */
static int queue_for_turnstile(int fd, uint64_t deadline, struct waiter *w) {
        for (;;) {
                if (alarm_fired || now_ns() >= deadline)
                        return -ETIMEDOUT;
                if (client_gone(w))
                        return -ECONNABORTED;
                int r = lock_byte(fd, ADMIT_TURNSTILE_OFFSET, true);
                if (r != -EINTR)
                        return r;
        }
}

/* The first free byte of [base, base + n), or -EAGAIN. */
static int take_first(int fd, off_t base, unsigned n, int *k) {
        for (unsigned i = 0; i < n; i++) {
                int r = lock_byte(fd, base + (off_t)i, false);
                if (r != -EAGAIN) {
                        *k = (int)i;
                        return r;
                }
        }
        return -EAGAIN;
}

/* At the head of the queue: the first free slot, and a FRESH byte with
 * it when there is a FRESH pool, looking again every ADMIT_POLL_MS. */
static int take_slot(int fd, unsigned slots, unsigned fresh, uint64_t deadline, struct waiter *w, int *slot) {
        for (;;) {
                if (client_gone(w))
                        return -ECONNABORTED;
                int f = -1, r = fresh ? take_first(fd, ADMIT_FRESH_BASE, fresh, &f) : 0;
                if (r == 0) {
                        r = take_first(fd, ADMIT_SLOT_BASE, slots, slot);
                        if (r == 0)
                                return 0;
                        if (f >= 0)
                                unlock_byte(fd, ADMIT_FRESH_BASE + f);
                }
                if (r != -EAGAIN)
                        return r;
                uint64_t now = now_ns();
                if (now >= deadline)
                        return -ETIMEDOUT;
                mark_waiting(fd, w);
                uint64_t left = (deadline - now + MS - 1) / MS; /* rounded up: never early */
                int ms = left < ADMIT_POLL_MS ? (int)left : ADMIT_POLL_MS;
                struct pollfd p = { .fd = w->client_fd, .events = w->client ? admit_client_events(w->client) : 0 };
                if (poll(&p, w->client_fd >= 0 ? 1 : 0, ms) < 0 && errno != EINTR)
                        return negative_errno();
        }
}

int admit_open(const char *lock_path) {
        int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        return fd < 0 ? negative_errno() : fd;
}

int admit_enter(const char *lock_path, unsigned slots, unsigned fresh, uint64_t timeout_ms, struct admit_client *client,
                struct admit_ticket *ticket, uint64_t *waited_ms) {
        *waited_ms = 0;
        int fd = admit_open(lock_path);
        if (fd < 0)
                return fd;
        return admit_enter_fd(fd, slots, fresh, timeout_ms, client, ticket, waited_ms);
}

int admit_enter_fd(int lock_fd, unsigned slots, unsigned fresh, uint64_t timeout_ms, struct admit_client *client,
                   struct admit_ticket *ticket, uint64_t *waited_ms) {
        _cleanup_close_ int fd = lock_fd;
        uint64_t t0 = now_ns(), deadline = t0 + timeout_ms * MS;
        struct waiter w = { .client = client, .client_fd = client ? client->fd : -1, .wait_byte = -1 };
        int slot = -1, r;

        *waited_ms = 0;
        if (slots == 0 || slots > ADMIT_MAX_SLOTS || fresh > ADMIT_MAX_SLOTS)
                return -EINVAL;
        /* Gone already (its FIN here, probed): no wait, no execution. */
        if (client_gone(&w))
                return -ECONNABORTED;

        r = lock_byte(fd, ADMIT_TURNSTILE_OFFSET, false);
        if (r == -EAGAIN) {
                if (timeout_ms == 0)
                        r = -ETIMEDOUT;
                else if ((r = arm(&w, deadline)) >= 0) {
                        mark_waiting(fd, &w);
                        r = queue_for_turnstile(fd, deadline, &w);
                }
        }
        if (r >= 0) {
                r = take_slot(fd, slots, fresh, deadline, &w, &slot);
                /* Wakes the next in line (only it). */
                unlock_byte(fd, ADMIT_TURNSTILE_OFFSET);
        }
        unmark_waiting(fd, &w);
        disarm(&w);
        *waited_ms = (now_ns() - t0) / MS;
        if (r < 0)
                return r;
        ticket->fd = TAKE_FD(fd);
        ticket->slot = slot;
        return 0;
}

/* Bytes of [start, end) write-locked by other open file descriptions:
 * F_OFD_GETLK names one lock in the range (not necessarily the first), so
 * count it and look on both sides of it, the smaller side by recursion
 * (depth O(log n)). One query per lock plus one per empty side. */
static int count_locked(int fd, off_t start, off_t end, unsigned *n) {
        while (start < end) {
                struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = start, .l_len = end - start };
                if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
                        return negative_errno();
                if (fl.l_type == F_UNLCK)
                        return 0;
                off_t lo = fl.l_start > start ? fl.l_start : start;
                off_t hi = fl.l_len == 0 || fl.l_start + fl.l_len > end ? end : fl.l_start + fl.l_len;
                if (hi <= lo)
                        return -EIO; /* the kernel named a lock outside the range */
                *n += (unsigned)(hi - lo);
                int r;
                if (lo - start <= end - hi) {
                        if ((r = count_locked(fd, start, lo, n)) < 0)
                                return r;
                        start = hi;
                } else {
                        if ((r = count_locked(fd, hi, end, n)) < 0)
                                return r;
                        end = lo;
                }
        }
        return 0;
}

/* Locks of two ranges of the file, or -errno. */
static int count_two(int fd, off_t a, off_t a_len, off_t b, off_t b_len, unsigned *in_a, unsigned *in_b) {
        unsigned na = 0, nb = 0;
        int r = count_locked(fd, a, a + a_len, &na);
        if (r >= 0)
                r = count_locked(fd, b, b + b_len, &nb);
        if (r < 0)
                return r;
        *in_a = na;
        *in_b = nb;
        return 0;
}

int admit_count(int lock_fd, unsigned *running, unsigned *waiting) {
        return count_two(lock_fd, ADMIT_SLOT_BASE, ADMIT_MAX_SLOTS, ADMIT_WAIT_BASE, ADMIT_MAX_WAITERS, running,
                         waiting);
}

int admit_count_pools(int lock_fd, unsigned *fresh, unsigned *cpu_bound) {
        return count_two(lock_fd, ADMIT_FRESH_BASE, ADMIT_MAX_SLOTS, ADMIT_LONG_BASE, ADMIT_MAX_SLOTS, fresh, cpu_bound);
}

/* An unlock touches only this open file description's own locks: the
 * whole range can be named without knowing which byte it holds. */
void admit_leave_fresh(int lock_fd) {
        unlock_range(lock_fd, ADMIT_FRESH_BASE, ADMIT_MAX_SLOTS);
}

void admit_leave_long(int lock_fd) {
        unlock_range(lock_fd, ADMIT_LONG_BASE, ADMIT_MAX_SLOTS);
}

void admit_leave_pacing(int lock_fd) {
        admit_leave_fresh(lock_fd);
        admit_leave_long(lock_fd);
        unlock_byte(lock_fd, ADMIT_LONG_TURNSTILE_OFFSET);
}

static int take_long_byte(int lock_fd, unsigned n) {
        int k;
        return take_first(lock_fd, ADMIT_LONG_BASE, n < ADMIT_MAX_SLOTS ? n : ADMIT_MAX_SLOTS, &k);
}

/* A free LONG byte goes to the paused ones first: while one of them holds
 * the turnstile (the head of their queue) a newcomer has to queue. */
int admit_take_long(int lock_fd, unsigned n) {
        int r = lock_byte(lock_fd, ADMIT_LONG_TURNSTILE_OFFSET, false);
        if (r < 0)
                return r;
        r = take_long_byte(lock_fd, n);
        unlock_byte(lock_fd, ADMIT_LONG_TURNSTILE_OFFSET);
        return r;
}

int admit_wait_long(int lock_fd, unsigned n, bool (*give_up)(void *userdata), void *userdata) {
        struct sigaction sa = { .sa_handler = on_signal }, old_sa; /* no SA_RESTART: EINTR */
        struct itimerval it = { .it_value = { .tv_usec = ADMIT_LONG_LOOK_MS * 1000 },
                                .it_interval = { .tv_usec = ADMIT_LONG_LOOK_MS * 1000 } },
                         old_it;
        sigset_t alrm, old_mask;
        int r;

        if ((r = admit_take_long(lock_fd, n)) != -EAGAIN)
                return r;
        sigemptyset(&sa.sa_mask);
        sigemptyset(&alrm);
        sigaddset(&alrm, SIGALRM);
        if (sigaction(SIGALRM, &sa, &old_sa) < 0)
                return negative_errno();
        (void)sigprocmask(SIG_UNBLOCK, &alrm, &old_mask);
        if (setitimer(ITIMER_REAL, &it, &old_it) < 0)
                r = negative_errno();
        /* In the kernel's queue for the turnstile (only its head wakes). */
        while (r == -EAGAIN) {
                if (give_up(userdata))
                        r = -ECANCELED;
                else if ((r = lock_byte(lock_fd, ADMIT_LONG_TURNSTILE_OFFSET, true)) == -EINTR)
                        r = -EAGAIN;
                else if (r == 0)
                        r = 1; /* at the head */
        }
        /* At the head: the first LONG byte that frees. */
        while (r == 1) {
                if (give_up(userdata))
                        r = -ECANCELED;
                else if ((r = take_long_byte(lock_fd, n)) == -EAGAIN) {
                        (void)poll(NULL, 0, ADMIT_POLL_MS);
                        r = 1;
                }
        }
        unlock_byte(lock_fd, ADMIT_LONG_TURNSTILE_OFFSET);
        (void)setitimer(ITIMER_REAL, &old_it, NULL);
        (void)sigaction(SIGALRM, &old_sa, NULL);
        (void)sigprocmask(SIG_SETMASK, &old_mask, NULL);
        return r;
}

void admit_release_all(int lock_fd) {
        unlock_range(lock_fd, ADMIT_SLOT_BASE, ADMIT_MAX_SLOTS);
        admit_leave_pacing(lock_fd);
}

void admit_leave(struct admit_ticket *ticket) {
        if (ticket->fd >= 0)
                close(ticket->fd);
        *ticket = ADMIT_TICKET_NULL;
}
