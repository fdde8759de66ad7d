/* SPDX-License-Identifier: Apache-2.0 */
/* In-process hardening of the serving process (see harden.h). */
#include <errno.h>
#include <linux/capability.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "creds.h"
#include "harden.h"
#include "jail.h"
#include "landlock.h"
#include "macro.h"
#include "ns.h"
#include "seccomp-load.h"


unsigned long long harden_kept_caps(void) {
        return (1ULL << CAP_SYS_ADMIN) | (1ULL << CAP_SETUID) | (1ULL << CAP_SETGID) | (1ULL << CAP_SETPCAP);
}

/* Keep only harden_kept_caps() in the bounding, permitted, effective and
 * inheritable sets; clear the ambient set. Running without some of them
 * (an unprivileged developer) is not an error here: the jail set-up fails
 * loudly later, and the selfcheck says which step. */
static int drop_caps(void) {
        unsigned long long keep = harden_kept_caps();
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
        struct __user_cap_data_struct d[2];
        if (syscall(SYS_capget, &h, d) < 0)
                return negative_errno();
        bool have_setpcap = d[0].effective & (1u << CAP_SETPCAP);
        int r;
        if (have_setpcap) {
                if ((r = creds_drop_bounding_except(keep)) < 0)
                        return r;
        } else if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
                return negative_errno();
        for (int i = 0; i < 2; i++) {
                uint32_t k = (uint32_t)(keep >> (32 * i));
                d[i].effective &= k;
                d[i].permitted &= k;
                d[i].inheritable = 0;
        }
        if (syscall(SYS_capset, &h, d) < 0)
                return negative_errno();
        return 0;
}

int harden_self(const struct config *cfg, const char **step) {
        int r;

        *step = "network";
        if ((r = jail_isolate_self_network(cfg)) < 0)
                return r;
        *step = "uts-ipc";
        if ((r = jail_isolate_self_uts_ipc()) < 0)
                return r;
        if (!SABOTAGED(LAYER_SELF_MOUNTS)) {
                /* Its /tmp holds one jail dir: the upload plus the wrapper. */
                uint64_t tmp_bytes = 2 * cfg->max_request_bytes + (UINT64_C(8) << 20);
                if ((r = ns_private_filesystem(cfg->state_dir, tmp_bytes, !SABOTAGED(LAYER_NAMESPACES), step)) < 0)
                        return r;
        }
        *step = "dumpable";
        if (!SABOTAGED(LAYER_SELF_DUMPABLE) && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                return negative_errno();
        *step = "capabilities";
        if (!SABOTAGED(LAYER_SELF_CAPS) && (r = drop_caps()) < 0)
                return r;
        *step = "no_new_privs";
        if (!SABOTAGED(LAYER_SELF_SECCOMP) && (r = creds_no_new_privs()) < 0)
                return r;
        /* Signals only to what it starts from here on: not to other
         * instances (same user) nor their jails. Older kernels: skipped,
         * and the selfcheck says so. */
        *step = "signal-scope";
        if (!SABOTAGED(LAYER_SELF_SCOPE) && (r = landlock_scope_signals()) < 0 && r != -EOPNOTSUPP && r != -ENOSYS)
                return r;
        *step = "seccomp";
        if (!SABOTAGED(LAYER_SELF_SECCOMP) && (r = seccomp_load_service()) < 0)
                return r;
        return 0;
}
