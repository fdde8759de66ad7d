/* SPDX-License-Identifier: Apache-2.0 */
/* AppArmor through libapparmor, the interface AppArmor's maintainers keep
 * correct across kernels (attr/apparmor/ beside attr/, stacking, the
 * label's "(mode)" suffix). Absent kernels are detected, never assumed.
 *
 * Detection is the one thing done here by hand, because libapparmor is
 * blind where codejaild runs: aa_is_enabled() looks for securityfs in
 * /proc/mounts, which a subset=pid procfs (the service's own, the selfcheck
 * unit's ProcSubset=pid) does not have, and then reads the module
 * parameter, which the service profile does not grant -- it reports an
 * AppArmor kernel as having none, and the sandbox profile would silently
 * never be entered. So: the kernel's own list of active LSMs (securityfs),
 * the module parameter as a fallback. The realhost tier proves it on
 * AppArmor kernels (health.json layers.apparmor "enforced"); test-apparmor
 * compares it with the LSM list here. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/apparmor.h>
#include <unistd.h>

#include "apparmor.h"
#include "fdio.h"
#include "macro.h"

bool apparmor_present(void) {
        char buf[512];
        if (fd_read_small(AT_FDCWD, "/sys/kernel/security/lsm", buf, sizeof buf) > 0) {
                for (char *save = NULL, *t = strtok_r(buf, ",\n", &save); t; t = strtok_r(NULL, ",\n", &save))
                        if (strcmp(t, "apparmor") == 0)
                                return true;
                return false;
        }
        return fd_read_small(AT_FDCWD, "/sys/module/apparmor/parameters/enabled", buf, sizeof buf) > 0 && buf[0] == 'Y';
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
        char *label = NULL, *mode = NULL;
        /* aa_gettaskcon/aa_getcon: one allocation holding both; mode NULL
         * for "unconfined". */
        if ((pid > 0 ? aa_gettaskcon(pid, &label, &mode) : aa_getcon(&label, &mode)) < 0)
                return negative_errno();
        int n = mode ? snprintf(buf, size, "%s (%s)", label, mode) : snprintf(buf, size, "%s", label);
        free(label);
        if (n < 0 || (size_t)n >= size)
                return -ENAMETOOLONG;
        return buf[0] ? 0 : -ENODATA;
}
