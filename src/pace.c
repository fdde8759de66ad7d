/* SPDX-License-Identifier: Apache-2.0 */
/* Pacing of one running execution (see pace.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admit.h"
#include "fdio.h"
#include "macro.h"
#include "pace.h"

/* A process's own CPU time (all its threads', the dead ones' too) in ns,
 * from its process CPU clock: exact, where /proc/<pid>/stat's utime and
 * stime are whole clock ticks, rounded down (a process that uses under a
 * tick would count nothing however often it is seen). The clock ID is the
 * kernel's encoding of pid's CPUCLOCK_SCHED clock, as clock_getcpuclockid()
 * makes it without that function's extra probe. */
static int cpu_ns_of(int pid, uint64_t *ns) {
        struct timespec ts;
        if (clock_gettime((clockid_t)((~(unsigned)pid << 3) | 2 /* CPUCLOCK_SCHED */), &ts) < 0)
                return negative_errno();
        *ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        return 0;
}

/* The length of the clock tick /proc/<pid>/stat counts in, in ns; read
 * once (a look reads every process's stat). */
static uint64_t ns_per_tick(void) {
        static uint64_t ns;
        if (!ns) {
                long hz = sysconf(_SC_CLK_TCK);
                ns = 1000000000u / (uint64_t)(hz > 0 ? hz : 100);
        }
        return ns;
}

/* One process, from /proc/<name>/stat (under dfd): its parent, start time
 * and state; its own time from its clock; and what the children it
 * waited for used (cutime + cstime: the sum of their exact times, in
 * ticks). */
struct usage {
        int ppid;
        char state;
        uint64_t start, own_ns, reaped_ns;
};

static int usage_of(int dfd, const char *name, int pid, struct usage *u) {
        char path[300], buf[1024];
        snprintf(path, sizeof path, "%s/stat", name);
        ssize_t n = fd_read_small(dfd, path, buf, sizeof buf);
        if (n <= 0)
                return n < 0 ? (int)n : -EIO;
        /* The name may hold anything, ')' included: fields follow the last. */
        char *s = strrchr(buf, ')');
        long long cu, cs;
        unsigned long long t0;
        /* state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
         * cmajflt utime stime cutime cstime priority nice num_threads
         * itrealvalue starttime */
        if (!s || sscanf(s + 1, " %c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %lld %lld %*d %*d %*d %*d %llu",
                         &u->state, &u->ppid, &cu, &cs, &t0) != 5 || cu < 0 || cs < 0)
                return -EIO;
        int r = cpu_ns_of(pid, &u->own_ns);
        if (r < 0)
                return r;
        u->reaped_ns = (uint64_t)(cu + cs) * ns_per_tick();
        u->start = t0;
        return 0;
}

/* Whether process pid ignores SIGCHLD, so that its children are reaped
 * by no one and never reach its reaped time. */
static bool ignores_sigchld(int pid) {
        char path[32], buf[2048];
        snprintf(path, sizeof path, "/proc/%d/status", pid);
        if (fd_read_small(AT_FDCWD, path, buf, sizeof buf) <= 0)
                return false;
        const char *line = strstr(buf, "\nSigIgn:");
        unsigned long long mask;
        return line && sscanf(line, "\nSigIgn: %llx", &mask) == 1 && (mask & (1ull << (SIGCHLD - 1)));
}

/* What of d, growth in e's reaped time, is new: the part no credit of
 * children already counted covers. */
static uint64_t uncredited(struct pace_seen *e, uint64_t d) {
        uint64_t use = d < e->credit_ns ? d : e->credit_ns;
        e->credit_ns -= use;
        e->absorbed_ns += use;
        return d - use;
}

void pace_tally_begin(struct pace_tally *t) {
        for (unsigned i = 0; i < t->n; i++)
                t->p[i].seen = false;
        t->looking = true;
}

void pace_tally_add(struct pace_tally *t, int pid, int ppid, uint64_t start, uint64_t own_ns, uint64_t reaped_ns) {
        struct pace_seen *e = NULL;
        for (unsigned i = 0; i < t->n && !e; i++)
                if (t->p[i].pid == pid)
                        e = &t->p[i];
        if (!e || e->start != start) {
                /* New (or its ID reused): all it has used so far. */
                if (!e && t->n < PACE_TALLY_MAX)
                        e = &t->p[t->n++];
                if (!e) {
                        t->total_ns += own_ns + reaped_ns;
                        return;
                }
                *e = (struct pace_seen){ .pid = pid, .start = start };
        }
        if (own_ns > e->own_ns) {
                t->total_ns += own_ns - e->own_ns;
                e->own_ns = own_ns;
        }
        if (reaped_ns > e->reaped_ns) {
                uint64_t d = reaped_ns - e->reaped_ns;
                e->reaped_ns = reaped_ns;
                /* In a look, a credit for a child found gone only at its
                 * end may still cover it. */
                if (t->looking)
                        e->pending_ns += d;
                else
                        t->total_ns += uncredited(e, d);
        }
        e->ppid = ppid;
        e->seen = true;
}

void pace_tally_end(struct pace_tally *t) {
        /* A child gone since the last look was counted while it lived; if
         * its parent waited for it, the same time is now, or will be by the
         * next look, in the parent's reaped time: the parent is credited
         * with what was counted for the child itself -- its own time and
         * the growth of its reaped time that no credit took off -- for this
         * look and the next. What a credit took off is not passed on: a
         * chain of processes each having its children reaped without a wait
         * would spend the same credit again at every level. A parent that
         * ignores SIGCHLD gets no credit (its children reach no reaped
         * time), nor does the init, which no look counts (an orphan it
         * reaps never reaches the count through a reaped time). */
        for (unsigned i = 0; i < t->n; i++) {
                struct pace_seen *c = &t->p[i];
                if (c->seen)
                        continue;
                for (unsigned j = 0; j < t->n; j++) {
                        struct pace_seen *p = &t->p[j];
                        if (p->pid == c->ppid && p->seen) {
                                if (!ignores_sigchld(p->pid))
                                        p->credit_new_ns += c->own_ns + c->reaped_ns - c->absorbed_ns;
                                break;
                        }
                }
        }
        unsigned k = 0;
        for (unsigned i = 0; i < t->n; i++) {
                struct pace_seen *e = &t->p[i];
                if (!e->seen)
                        continue; /* what it used is in the total already */
                /* Last look's credit may cover this look's growth, and
                 * this look's credit this and the next look's. */
                e->credit_ns += e->credit_new_ns;
                t->total_ns += uncredited(e, e->pending_ns);
                e->pending_ns = 0;
                e->credit_ns = e->credit_new_ns < e->credit_ns ? e->credit_new_ns : e->credit_ns;
                e->credit_new_ns = 0;
                t->p[k++] = *e;
        }
        t->n = k;
        t->looking = false;
}

int pace_namespace_look(struct pace_tally *t, struct pace_sample *s) {
        if (getpid() != 1)
                return -ESRCH; /* not a namespace of its own: /proc is the host's */
        DIR *d = opendir("/proc");
        if (!d)
                return negative_errno();
        int max_pid = 0;
        unsigned runnable = 0, unstopped = 0;
        struct dirent *e;
        pace_tally_begin(t);
        while ((e = readdir(d))) {
                struct usage u;
                /* Not the init itself (its /proc/1 is a stand-in); a
                 * process gone since the listing keeps what it was seen
                 * to use. */
                if (e->d_name[0] < '1' || e->d_name[0] > '9' || strcmp(e->d_name, "1") == 0)
                        continue;
                int pid = atoi(e->d_name);
                if (usage_of(dirfd(d), e->d_name, pid, &u) == 0) {
                        pace_tally_add(t, pid, u.ppid, u.start, u.own_ns, u.reaped_ns);
                        runnable += u.state == 'R';
                        unstopped += !strchr("TtZX", u.state);
                }
                if (pid > max_pid)
                        max_pid = pid;
        }
        closedir(d);
        pace_tally_end(t);
        s->cpu_ms = t->total_ns / 1000000;
        s->max_pid = max_pid;
        s->runnable = runnable;
        s->unstopped = unstopped;
        return 0;
}

void pace_tally_reaped(struct pace_tally *t, int pid) {
        char name[16];
        struct usage u;
        snprintf(name, sizeof name, "/proc/%d", pid);
        if (usage_of(AT_FDCWD, name, pid, &u) == 0)
                pace_tally_add(t, pid, u.ppid, u.start, u.own_ns, u.reaped_ns);
}

static void schedule(struct pace_watch *w, uint64_t now) {
        /* xorshift64: the next look's time is not for the program to guess */
        w->rnd ^= w->rnd << 13;
        w->rnd ^= w->rnd >> 7;
        w->rnd ^= w->rnd << 17;
        w->next_ms = now + PACE_TICK_MS / 2 + w->rnd % (PACE_TICK_MS + 1);
}

/* A window of PACE_CPU_BOUND_MS over which a CPU-bound execution must
 * look busy to keep its place starts at now with cpu_ms used. */
static void window_start(struct pace_watch *w, uint64_t now, uint64_t cpu_ms) {
        w->window_ms = now;
        w->window_cpu_ms = cpu_ms;
        w->window_looks = w->window_runnable = 0;
}

void pace_watch_begin(struct pace_watch *w, uint64_t now_ms, uint64_t seed) {
        *w = (struct pace_watch){ .rnd = seed | 1 };
        schedule(w, now_ms);
}

void pace_watch_pause(struct pace_watch *w, bool paused, uint64_t now_ms) {
        w->paused = paused;
        w->paused_seen = false;
        /* Resumed: the wall time paused is no idleness of its own. */
        window_start(w, now_ms, w->last_cpu_ms);
        /* The baseline a tick after the stop at the earliest, once a fork
         * that raced with it has ended (its child stopped too) and every
         * process has stopped. */
        if (paused) {
                w->paused_at_ms = now_ms;
                w->next_ms = now_ms + PACE_TICK_MS;
        }
}

enum pace_report pace_watch_look(struct pace_watch *w, uint64_t now, const struct pace_sample *s) {
        schedule(w, now);
        w->last_cpu_ms = s->cpu_ms;
        if (w->paused) {
                /* Nothing of a stopped namespace runs or forks: from
                 * the first look that found every process stopped (or
                 * PACE_SETTLE_MS after the stop) on, CPU used or new
                 * processes are the program undoing its stop. */
                if (!w->paused_seen) {
                        if (s->unstopped && now < w->paused_at_ms + PACE_SETTLE_MS)
                                return PACE_REPORT_NONE;
                        w->paused_seen = true;
                        w->paused_cpu_ms = s->cpu_ms;
                        w->paused_max_pid = s->max_pid;
                        return PACE_REPORT_NONE;
                }
                if (s->cpu_ms > w->paused_cpu_ms + PACE_ESCAPE_CPU_MS ||
                    s->max_pid > w->paused_max_pid + PACE_ESCAPE_PIDS)
                        return PACE_REPORT_ESCAPED;
                return PACE_REPORT_NONE;
        }
        if (!w->bound) {
                if (s->cpu_ms < w->base_cpu_ms + PACE_CPU_BOUND_MS)
                        return PACE_REPORT_NONE;
                w->bound = true;
                window_start(w, now, s->cpu_ms);
                return PACE_REPORT_CPU_BOUND;
        }
        w->window_looks++;
        w->window_runnable += s->runnable > 0;
        if (now - w->window_ms < PACE_CPU_BOUND_MS)
                return PACE_REPORT_NONE;
        /* Idle: little CPU, and not for want of it -- a process waiting
         * for a CPU on a crowded host is runnable ('R') at most looks. */
        bool idle = s->cpu_ms < w->window_cpu_ms + PACE_IDLE_CPU_MS && 2 * w->window_runnable < w->window_looks;
        window_start(w, now, s->cpu_ms);
        if (!idle)
                return PACE_REPORT_NONE;
        w->bound = false;
        w->base_cpu_ms = s->cpu_ms;
        return PACE_REPORT_IDLE;
}

void pace_begin(struct pace *p, int lock_fd, unsigned cpu_bound_slots, uint64_t now_ms) {
        *p = (struct pace){
                .lock_fd = lock_fd, .cpu_bound_slots = cpu_bound_slots,
                .fresh_until_ms = now_ms + PACE_FRESH_MS, .fresh = lock_fd >= 0,
        };
}

void pace_cpu_bound(struct pace *p) {
        p->cpu_bound = true;
}

void pace_cpu_idle(struct pace *p) {
        if (p->holds_long)
                admit_leave_long(p->lock_fd);
        p->holds_long = p->cpu_bound = false;
}

uint64_t pace_step(struct pace *p, uint64_t now, enum pace_action *act) {
        *act = PACE_NONE;
        if (p->lock_fd < 0)
                return UINT64_MAX;
        if (p->fresh && (now >= p->fresh_until_ms || p->cpu_bound)) {
                admit_leave_fresh(p->lock_fd);
                p->fresh = false;
        }
        if (!p->cpu_bound || p->holds_long || p->cpu_bound_slots == 0)
                return p->fresh ? p->fresh_until_ms : UINT64_MAX;
        if (!p->paused) {
                if (admit_take_long(p->lock_fd, p->cpu_bound_slots) == 0) {
                        p->holds_long = true;
                        return UINT64_MAX;
                }
                *act = PACE_PAUSE;
                p->paused = true;
                p->paused_since_ms = now;
        }
        return now; /* the caller waits: pace_wait_long() */
}

enum pace_action pace_wait_long(struct pace *p, bool (*give_up)(void *userdata), void *userdata,
                                uint64_t *deadline, uint64_t (*now_ms)(void)) {
        if (!p->paused || admit_wait_long(p->lock_fd, p->cpu_bound_slots, give_up, userdata) < 0)
                return PACE_NONE;
        uint64_t paused = now_ms() - p->paused_since_ms;
        p->holds_long = true;
        p->paused = false;
        p->paused_ms += paused;
        if (*deadline != UINT64_MAX)
                *deadline += paused;
        return PACE_RESUME;
}

void pace_end(struct pace *p, uint64_t now_ms) {
        /* Killed while paused: that pause counts too. */
        if (p->paused) {
                p->paused_ms += now_ms - p->paused_since_ms;
                p->paused = false;
        }
        if (p->lock_fd < 0)
                return;
        admit_leave_pacing(p->lock_fd);
        p->lock_fd = -1;
}
