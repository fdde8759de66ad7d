/* SPDX-License-Identifier: Apache-2.0 */
/* codejail's resource limits, set in the child before it drops privileges.
 * 0 means what it means in codejail (create_rlimits()): CPU, NPROC and VMEM
 * are then not set at all -- the execution keeps the instance's own limit,
 * which the unit's backstops bound (README "Limits") -- while FSIZE 0 is
 * set: no file may be written. */
#include <errno.h>
#include <sys/resource.h>

#include "macro.h"
#include "rlimit.h"

int rlimit_apply(const struct limits *l, const char **failed) {
        const struct {
                int resource;
                rlim_t soft, hard;
                const char *name;
                bool zero_unlimited;
        } t[] = {
                /* Soft CPU sends SIGXCPU (-24 as upstream); hard one second later kills. */
                { RLIMIT_CPU, (rlim_t)l->v[LIMIT_CPU], (rlim_t)l->v[LIMIT_CPU] + 1, "CPU", true },
                { RLIMIT_FSIZE, (rlim_t)l->v[LIMIT_FSIZE], (rlim_t)l->v[LIMIT_FSIZE], "FSIZE", false },
                { RLIMIT_NPROC, (rlim_t)l->v[LIMIT_NPROC], (rlim_t)l->v[LIMIT_NPROC], "NPROC", true },
                { RLIMIT_CORE, 0, 0, "CORE", false },
        };
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                if (t[i].zero_unlimited && t[i].soft == 0)
                        continue;
                struct rlimit rl = { t[i].soft, t[i].hard };
                if (setrlimit(t[i].resource, &rl) < 0) {
                        *failed = t[i].name;
                        return negative_errno();
                }
        }
        return 0;
}

int rlimit_apply_vmem(const struct limits *l) {
        if (l->v[LIMIT_VMEM] == 0)
                return 0;
        struct rlimit rl = { (rlim_t)l->v[LIMIT_VMEM], (rlim_t)l->v[LIMIT_VMEM] };
        return setrlimit(RLIMIT_AS, &rl) < 0 ? negative_errno() : 0;
}
