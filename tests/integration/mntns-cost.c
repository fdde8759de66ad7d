/* SPDX-License-Identifier: Apache-2.0 */
/* What a minimal mount namespace costs when a process sets it up itself:
 * the in-process alternative to systemd's PrivateTmp=,
 * ProtectSystem=strict and ProtectHome= (nspawn-bench.sh runs it, as root,
 * inside the booted container).
 *
 * For each level, N times: fork; the child times its own set-up, exits;
 * the parent times fork..waitpid (so the namespace's tear-down counts too).
 *   0  nothing (fork + exit)
 *   1  unshare(CLONE_NEWNS) + MS_REC|MS_SLAVE on /
 *   2  1 + a tmpfs on /tmp                                  (~ PrivateTmp=)
 *   3  2 + mount_setattr("/", AT_RECURSIVE, RDONLY), state dir bound back
 *      read-write, /tmp mounted after (so it stays rw)        (~ ProtectSystem=strict)
 *   4  3 + read-only empty tmpfs over /home and /root         (~ ProtectHome=yes)
 * Output: one line per level: median set-up us, median fork..wait us.
 *
 *   cc -O2 -static -o mntns-cost mntns-cost.c && ./mntns-cost [N] [STATE_DIR]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
struct mount_attr { unsigned long long attr_set, attr_clr, propagation, userns_fd; };
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

static double now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int setup(int level, const char *state) {
        if (level < 1)
                return 0;
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
                return 1;
        if (level >= 3) {
                struct mount_attr a = {.attr_set = MOUNT_ATTR_RDONLY};
                if (syscall(SYS_mount_setattr, AT_FDCWD, "/", AT_RECURSIVE, &a, sizeof a) < 0)
                        return 3;
                if (mount(state, state, NULL, MS_BIND, NULL) < 0 ||
                    mount(NULL, state, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV, NULL) < 0)
                        return 4;
        }
        if (level >= 2 && mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=64m") < 0)
                return 2;
        if (level >= 4) {
                if (mount("tmpfs", "/home", "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755") < 0 ||
                    mount("tmpfs", "/root", "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755") < 0)
                        return 5;
        }
        /* Proof that it took: /usr is read-only, /tmp writable. */
        if (level >= 3 && access("/usr", W_OK) == 0)
                return 6;
        return 0;
}

static int cmp(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;
        return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
        int n = argc > 1 ? atoi(argv[1]) : 200;
        const char *state = argc > 2 ? argv[2] : "/run";
        double *in = calloc(n, sizeof *in), *tot = calloc(n, sizeof *tot);
        for (int level = 0; level <= 4; level++) {
                for (int i = 0; i < n; i++) {
                        int p[2];
                        if (pipe(p) < 0)
                                return 1;
                        double t0 = now_us();
                        pid_t pid = fork();
                        if (pid == 0) {
                                double c0 = now_us();
                                int r = setup(level, state);
                                double dt = now_us() - c0;
                                if (r)
                                        fprintf(stderr, "level %d: step %d: %s\n", level, r, strerror(errno));
                                (void)!write(p[1], &dt, sizeof dt);
                                _exit(r);
                        }
                        int st;
                        close(p[1]);
                        if (read(p[0], &in[i], sizeof in[i]) != sizeof in[i])
                                in[i] = -1;
                        close(p[0]);
                        waitpid(pid, &st, 0);
                        tot[i] = now_us() - t0;
                        if (!WIFEXITED(st) || WEXITSTATUS(st))
                                return 1;
                }
                qsort(in, n, sizeof *in, cmp);
                qsort(tot, n, sizeof *tot, cmp);
                printf("level %d: set-up median %.0f us, fork..wait median %.0f us\n", level, in[n / 2], tot[n / 2]);
        }
        return 0;
}
