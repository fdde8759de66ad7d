/* SPDX-License-Identifier: Apache-2.0 */
/* Pacing of one running execution (see pace.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admit.h"
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

/* Process name's start time and state from /proc/<name>/stat (under dfd),
 * and what it used: its own time from its clock, plus what the children it
 * waited for used (cutime + cstime: the sum of their exact times, in
 * ticks). A child seen alive and then waited for counts twice -- seen, and
 * in its parent's reaped time -- but a child a parent waits for between
 * two looks counts at all only this way; a child reaped automatically
 * (SIGCHLD ignored) reaches no one's reaped time, and counts as seen. */
static int usage_of(int dfd, const char *name, int pid, uint64_t *ns, uint64_t *start, char *state) {
        char path[300], buf[1024];
        snprintf(path, sizeof path, "%s/stat", name);
        _cleanup_close_ int fd = openat(dfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return negative_errno();
        ssize_t n = read(fd, buf, sizeof buf - 1);
        if (n <= 0)
                return n < 0 ? negative_errno() : -EIO;
        buf[n] = '\0';
        /* The name may hold anything, ')' included: fields follow the last. */
        char *s = strrchr(buf, ')');
        long long cu, cs;
        unsigned long long t0;
        /* state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
         * cmajflt utime stime cutime cstime priority nice num_threads
         * itrealvalue starttime */
        if (!s || sscanf(s + 1, " %c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %lld %lld %*d %*d %*d %*d %llu",
                         state, &cu, &cs, &t0) != 4 || cu < 0 || cs < 0)
                return -EIO;
        uint64_t own;
        int r = cpu_ns_of(pid, &own);
        if (r < 0)
                return r;
        *ns = own + (uint64_t)(cu + cs) * ns_per_tick();
        *start = t0;
        return 0;
}

void pace_tally_begin(struct pace_tally *t) {
        for (unsigned i = 0; i < t->n; i++)
                t->p[i].seen = false;
}

void pace_tally_add(struct pace_tally *t, int pid, uint64_t start, uint64_t ns) {
        struct pace_seen *e = NULL;
        for (unsigned i = 0; i < t->n && !e; i++)
                if (t->p[i].pid == pid)
                        e = &t->p[i];
        if (e && e->start == start) {
                if (ns > e->ns) {
                        t->total_ns += ns - e->ns;
                        e->ns = ns;
                }
                e->seen = true;
                return;
        }
        /* New (or its ID reused): all it has used so far. */
        t->total_ns += ns;
        if (!e && t->n < PACE_TALLY_MAX)
                e = &t->p[t->n++];
        if (e)
                *e = (struct pace_seen){ .pid = pid, .start = start, .ns = ns, .seen = true };
}

void pace_tally_end(struct pace_tally *t) {
        /* What a process gone had used is in the total already. */
        unsigned k = 0;
        for (unsigned i = 0; i < t->n; i++)
                if (t->p[i].seen)
                        t->p[k++] = t->p[i];
        t->n = k;
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
                uint64_t ns, start;
                char state;
                /* Not the init itself (its /proc/1 is a stand-in); a
                 * process gone since the listing keeps what it was seen
                 * to use. */
                if (e->d_name[0] < '1' || e->d_name[0] > '9' || strcmp(e->d_name, "1") == 0)
                        continue;
                int pid = atoi(e->d_name);
                if (usage_of(dirfd(d), e->d_name, pid, &ns, &start, &state) == 0) {
                        pace_tally_add(t, pid, start, ns);
                        runnable += state == 'R';
                        unstopped += !strchr("TtZX", state);
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
        uint64_t ns, start;
        char state;
        snprintf(name, sizeof name, "/proc/%d", pid);
        if (usage_of(AT_FDCWD, name, pid, &ns, &start, &state) == 0)
                pace_tally_add(t, pid, start, ns);
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
