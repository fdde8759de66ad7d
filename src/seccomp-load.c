/* SPDX-License-Identifier: Apache-2.0 */
/* See seccomp-load.h. */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "macro.h"
#include "seccomp-bpf.h" /* generated: seccomp-gen.c */
#include "seccomp-load.h"

static int load(const struct sock_filter *f, size_t n, unsigned flags) {
        struct sock_fprog prog = { .len = (unsigned short)n, .filter = (struct sock_filter *)f };
        long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
        return r < 0 ? negative_errno() : (int)r;
}

int seccomp_load_service(void) {
        int r = load(seccomp_bpf_service_allow, ELEMENTSOF(seccomp_bpf_service_allow), 0);
        if (r < 0)
                return r;
        return load(seccomp_bpf_service_deny, ELEMENTSOF(seccomp_bpf_service_deny), 0);
}

int seccomp_load_jail(bool exec_notify) {
        if (exec_notify)
                return load(seccomp_bpf_jail_notify, ELEMENTSOF(seccomp_bpf_jail_notify),
                            SECCOMP_FILTER_FLAG_NEW_LISTENER);
        int r = load(seccomp_bpf_jail_plain, ELEMENTSOF(seccomp_bpf_jail_plain), 0);
        return r < 0 ? r : 0;
}

int seccomp_load_privsep(void) {
        int r = load(seccomp_bpf_privsep, ELEMENTSOF(seccomp_bpf_privsep), 0);
        return r < 0 ? r : 0;
}
