/* SPDX-License-Identifier: Apache-2.0 */
/* codejail's resource limits, set in the child before it drops privileges. */
#include <errno.h>
#include <sys/resource.h>

#include "macro.h"
#include "rlimit.h"

int rlimit_apply(const struct limits *l, const char **failed) {
        const struct {
                int resource;
                rlim_t soft, hard;
                const char *name;
        } t[] = {
                /* Soft CPU sends SIGXCPU (-24 as upstream); hard one second later kills. */
                { RLIMIT_CPU, (rlim_t)l->v[LIMIT_CPU], (rlim_t)l->v[LIMIT_CPU] + 1, "CPU" },
                { RLIMIT_FSIZE, (rlim_t)l->v[LIMIT_FSIZE], (rlim_t)l->v[LIMIT_FSIZE], "FSIZE" },
                { RLIMIT_NPROC, (rlim_t)l->v[LIMIT_NPROC], (rlim_t)l->v[LIMIT_NPROC], "NPROC" },
                { RLIMIT_CORE, 0, 0, "CORE" },
        };
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                struct rlimit rl = { t[i].soft, t[i].hard };
                if (setrlimit(t[i].resource, &rl) < 0) {
                        *failed = t[i].name;
                        return negative_errno();
                }
        }
        return 0;
}

int rlimit_apply_vmem(const struct limits *l) {
        struct rlimit rl = { (rlim_t)l->v[LIMIT_VMEM], (rlim_t)l->v[LIMIT_VMEM] };
        return setrlimit(RLIMIT_AS, &rl) < 0 ? negative_errno() : 0;
}
