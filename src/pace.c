/* SPDX-License-Identifier: Apache-2.0 */
/* Pacing of one running execution (see pace.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "admit.h"
#include "macro.h"
#include "pace.h"

/* utime + stime + cutime + cstime of /proc/<name>/stat, in clock ticks. */
static int stat_ticks(int dfd, const char *name, uint64_t *ticks) {
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
        unsigned long long v[4];
        /* state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
         * cmajflt, then utime stime cutime cstime */
        if (!s || sscanf(s + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu", &v[0], &v[1],
                         &v[2], &v[3]) != 4)
                return -EIO;
        *ticks = v[0] + v[1] + v[2] + v[3];
        return 0;
}

int pace_namespace_cpu_ms(uint64_t *ms) {
        if (getpid() != 1)
                return -ESRCH; /* not a namespace of its own: /proc is the host's */
        DIR *d = opendir("/proc");
        if (!d)
                return negative_errno();
        uint64_t total = 0;
        long hz = sysconf(_SC_CLK_TCK);
        struct dirent *e;
        while ((e = readdir(d))) {
                uint64_t t;
                /* Not the init itself (its /proc/1 is a stand-in); a
                 * process gone since the listing counted in its parent's
                 * reaped share, or is lost for one look. */
                if (e->d_name[0] < '1' || e->d_name[0] > '9' || strcmp(e->d_name, "1") == 0)
                        continue;
                if (stat_ticks(dirfd(d), e->d_name, &t) == 0)
                        total += t;
        }
        closedir(d);
        *ms = total * 1000 / (uint64_t)(hz > 0 ? hz : 100);
        return 0;
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

void pace_end(struct pace *p) {
        if (p->lock_fd < 0)
                return;
        admit_leave_pacing(p->lock_fd);
        p->lock_fd = -1;
}
