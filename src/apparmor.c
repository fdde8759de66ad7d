/* SPDX-License-Identifier: Apache-2.0 */
/* AppArmor through the kernel's own interface in /proc: no libapparmor
 * (issue 16: each library an instance maps costs it start-up; this one was
 * two writes of a string). Absent kernels are detected, never assumed.
 *
 * Detection reads the kernel's own list of active LSMs (securityfs), with
 * the module parameter as a fallback. Not libapparmor's aa_is_enabled(): it
 * looks for securityfs in /proc/mounts, which a subset=pid procfs (the
 * service's own, the selfcheck unit's ProcSubset=pid) does not have, and
 * then reports an AppArmor kernel as having none -- the sandbox profile
 * was silently never entered (issue 11). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "apparmor.h"
#include "macro.h"

static ssize_t read_small(const char *path, char *buf, size_t size) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        ssize_t n = read(fd, buf, size - 1);
        if (n < 0)
                return negative_errno();
        buf[n] = '\0';
        return n;
}

bool apparmor_present(void) {
        char buf[512];
        if (read_small("/sys/kernel/security/lsm", buf, sizeof buf) > 0) {
                for (char *save = NULL, *t = strtok_r(buf, ",\n", &save); t; t = strtok_r(NULL, ",\n", &save))
                        if (strcmp(t, "apparmor") == 0)
                                return true;
                return false;
        }
        return read_small("/sys/module/apparmor/parameters/enabled", buf, sizeof buf) > 0 && buf[0] == 'Y';
}

bool apparmor_self_confined(void) {
        char label[256];
        return apparmor_label_of(0, label, sizeof label) >= 0 && strncmp(label, "unconfined", 10) != 0;
}

/* What libapparmor's aa_change_onexec()/aa_stack_onexec() do: one write
 * of "exec PROFILE" (or "stack PROFILE") to the calling thread's exec
 * attribute, the LSM-specific file first (kernels >= 5.8), the shared one
 * after -- the same two paths, so the service profile's rule for them is
 * unchanged. The kernel checks the profile exists when the write happens
 * (ENOENT) and applies it at the next execve. */
int apparmor_change_onexec(const char *profile, bool stack) {
        char cmd[512], path[64];
        int n = snprintf(cmd, sizeof cmd, "%s %s", stack ? "stack" : "exec", profile);
        if (n < 0 || (size_t)n >= sizeof cmd)
                return -ENAMETOOLONG;
        pid_t tid = (pid_t)syscall(SYS_gettid);
        for (int k = 0; k < 2; k++) {
                snprintf(path, sizeof path, "/proc/%d/attr/%sexec", (int)tid, k ? "" : "apparmor/");
                _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
                if (fd < 0 && errno == ENOENT && k == 0)
                        continue; /* no LSM-specific directory: the shared file */
                if (fd < 0)
                        return negative_errno();
                ssize_t w;
                do
                        w = write(fd, cmd, (size_t)n);
                while (w < 0 && errno == EINTR);
                return w < 0 ? negative_errno() : w == n ? 0 : -EPROTO;
        }
        return -ENOENT;
}

int apparmor_label_of(pid_t pid, char *buf, size_t size) {
        char path[64];
        ssize_t n = -ENOENT;
        /* The LSM-specific file first (kernels >= 5.8 with several LSMs). */
        for (int k = 0; k < 2 && n < 0; k++) {
                if (pid > 0)
                        snprintf(path, sizeof path, "/proc/%d/attr/%scurrent", (int)pid, k ? "" : "apparmor/");
                else
                        snprintf(path, sizeof path, "/proc/self/attr/%scurrent", k ? "" : "apparmor/");
                n = read_small(path, buf, size);
        }
        if (n < 0)
                return (int)n;
        buf[strcspn(buf, "\n")] = '\0';
        return buf[0] ? 0 : -ENODATA;
}
