/* SPDX-License-Identifier: Apache-2.0 */
/* The unprivileged side of an instance, forked and confined (see unpriv.h).
 *
 * Why a module of its own: the split (privsep.c) serves through server.c,
 * which answers health from health.c, whose probes fork and confine a
 * process exactly as the split does. The confinement lives below all three
 * so that none of them calls up into another. */
#include <errno.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "creds.h"
#include "jail.h"
#include "landlock.h"
#include "macro.h"
#include "seccomp-load.h"
#include "unpriv.h"

#ifdef CODEJAIL_SANITIZERS
#include <fcntl.h>
#include <sanitizer/common_interface_defs.h>
#endif

static bool have_cap(int cap) {
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
        struct __user_cap_data_struct d[2] = { 0 };
        return syscall(SYS_capget, &h, d) == 0 && (d[cap / 32].effective & (1u << (cap % 32)));
}

/* The capability steps. Without CAP_SETPCAP (an unprivileged developer's
 * --exec) the bounding set and securebits cannot change; there is then
 * nothing in them to use either (no_new_privs, no execve), and the
 * selfcheck's privsep_capabilities probe reports the bounding set. */
static int drop_caps(const char **step) {
        int r;
        bool setpcap = have_cap(CAP_SETPCAP);
        *step = "bounding-set";
        if (setpcap && (r = creds_drop_bounding()) < 0)
                return r;
        *step = "ambient-set";
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
                return negative_errno();
        *step = "securebits";
        if (setpcap && (r = creds_lock_securebits()) < 0)
                return r;
        *step = "capabilities";
        return creds_drop_all_caps();
}

#ifdef CODEJAIL_SANITIZERS
/* Sanitizer builds only (configure --enable-sanitizers): a report written
 * after the drop could not open its log file, so the runtime gets one
 * opened now, beside ASAN_OPTIONS's log_path as privsep-report.<pid>
 * (tests/sanitize.sh counts the non-empty ones). Never in the product. */
static void sanitizer_report_fd(void) {
        const char *o = getenv("ASAN_OPTIONS"), *p = o ? strstr(o, "log_path=") : NULL;
        char path[600];
        if (!p)
                return;
        p += strlen("log_path=");
        size_t n = strcspn(p, ":");
        const char *slash = memrchr(p, '/', n);
        if (!slash)
                return;
        snprintf(path, sizeof path, "%.*s/privsep-report.%d", (int)(slash - p), p, (int)getpid());
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0)
                __sanitizer_set_report_fd((void *)(intptr_t)fd);
}
#else
static void sanitizer_report_fd(void) {
}
#endif

int unpriv_drop(pid_t parent, const char **step) {
        int r;
        if (SABOTAGED(LAYER_PRIVSEP))
                return 0;
        sanitizer_report_fd();
        /* If the privileged side dies, so does this one: nothing left to
         * answer for it. The parent may have died before the prctl. */
        *step = "pdeathsig";
        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
                return negative_errno();
        if (getppid() != parent)
                return -ESRCH;
        /* No ptrace of it (or core) by the service's own uid: the parent is
         * not dumpable either (harden.c), so neither side reaches the other. */
        *step = "dumpable";
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                return negative_errno();
        if ((r = drop_caps(step)) < 0)
                return r;
        *step = "no_new_privs";
        if ((r = creds_no_new_privs()) < 0)
                return r;
        /* Landlock where this process may use it. A kernel without it, or
         * a container manager whose seccomp filter refuses its system calls
         * (EPERM at the version probe: systemd-nspawn 252 without
         * --system-call-filter, where the Debian 13 package is built), leaves
         * the allow-list below, which refuses open and socket by itself;
         * once the probe answers, any failure is fatal. */
        *step = "landlock";
        if (landlock_abi() > 0 && (r = landlock_deny_all()) < 0)
                return r;
        /* Last: the allow-list would refuse the steps above. */
        *step = "seccomp";
        return seccomp_load_privsep();
}

static long long cpu_us(void) {
        struct timespec ts;
        if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) < 0)
                return 0;
        return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

pid_t unpriv_fork(int *fd, long long *parent_cpu_us) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return negative_errno();
        long long used = cpu_us();
        pid_t pid = fork();
        if (pid < 0) {
                int r = negative_errno();
                close(sv[0]);
                close(sv[1]);
                return r;
        }
        if (pid == 0) {
                close(sv[0]);
                if (parent_cpu_us)
                        *parent_cpu_us = used;
                *fd = sv[1];
                return 0;
        }
        close(sv[1]);
        *fd = sv[0];
        return pid;
}
