/* SPDX-License-Identifier: Apache-2.0 */
/* AppArmor via libapparmor. Absent kernels are detected, never assumed.
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
#include <sys/apparmor.h>
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

int apparmor_change_onexec(const char *profile, bool stack) {
        if ((stack ? aa_stack_onexec(profile) : aa_change_onexec(profile)) < 0)
                return negative_errno();
        return 0;
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
