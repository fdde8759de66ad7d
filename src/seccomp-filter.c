/* The jail's seccomp filter (libseccomp). Default allow: Landlock, the
 * namespaces and the uid are the boundary; this removes kernel attack
 * surface and gives upstream-compatible errors (DNS needs socket() ->
 * EACCES to print "[Errno -2] Name or service not known"). */
#include <errno.h>
#include <stdint.h>
#include <linux/sched.h>
#include <sys/socket.h>

#include "macro.h"
#include "seccomp-filter.h"

const char *const seccomp_denied_syscalls[] = {
        "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "bpf", "perf_event_open",
        "keyctl", "add_key", "request_key", "userfaultfd",
        /* mount API and namespace changes */
        "mount", "umount2", "pivot_root", "chroot", "setns", "unshare", "open_tree", "move_mount",
        "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
        /* io_uring: its socket ops bypass the socket() rule */
        "io_uring_setup", "io_uring_enter", "io_uring_register",
        "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
        "open_by_handle_at", "name_to_handle_at", "swapon", "swapoff", "reboot", "acct", "quotactl",
        "syslog", "iopl", "ioperm", "fanotify_init", "lookup_dcookie", "settimeofday", "clock_settime",
        "adjtimex", "clock_adjtime", "personality", "vhangup", "nfsservctl",
        NULL,
};

static int add(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned n, const struct scmp_arg_cmp *cmp) {
        int nr = seccomp_syscall_resolve_name(name);
        if (nr == __NR_SCMP_ERROR)
                return 0; /* not on this architecture */
        return seccomp_rule_add_array(ctx, action, nr, n, cmp);
}

int seccomp_filter_new(bool exec_notify, scmp_filter_ctx *ret) {
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
        int r;
        if (!ctx)
                return -ENOMEM;
        r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
        if (r < 0)
                goto fail;

        /* Any socket family but AF_UNIX. */
        struct scmp_arg_cmp not_unix = SCMP_A0(SCMP_CMP_NE, AF_UNIX);
        if ((r = add(ctx, SCMP_ACT_ERRNO(EACCES), "socket", 1, &not_unix)) < 0 ||
            (r = add(ctx, SCMP_ACT_ERRNO(EACCES), "socketpair", 1, &not_unix)) < 0)
                goto fail;

        if (exec_notify &&
            ((r = add(ctx, SCMP_ACT_NOTIFY, "execve", 0, NULL)) < 0 ||
             (r = add(ctx, SCMP_ACT_NOTIFY, "execveat", 0, NULL)) < 0))
                goto fail;

        for (size_t i = 0; seccomp_denied_syscalls[i]; i++)
                if ((r = add(ctx, SCMP_ACT_ERRNO(EPERM), seccomp_denied_syscalls[i], 0, NULL)) < 0)
                        goto fail;

        /* clone() creating namespaces; clone3 hides its flags in memory, so
         * it answers ENOSYS and glibc falls back to clone(). */
        static const unsigned long ns_flags[] = { CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER,
                                                  CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP };
        for (size_t i = 0; i < ELEMENTSOF(ns_flags); i++) {
                struct scmp_arg_cmp c = SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]);
                if ((r = add(ctx, SCMP_ACT_ERRNO(EPERM), "clone", 1, &c)) < 0)
                        goto fail;
        }
        if ((r = add(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL)) < 0)
                goto fail;

        *ret = ctx;
        return 0;
fail:
        seccomp_release(ctx);
        return r < 0 ? r : -EINVAL;
}

/* The serving process's own filter, installed before it reads a byte of
 * the request (it is inherited by the jail, whose filter stacks on it).
 * It must allow what the jail set-up needs -- clone() into namespaces,
 * mount and the new mount API, setresuid, Landlock, seccomp, execve of the
 * interpreter -- so it denies only: sockets other than AF_UNIX (no egress
 * even without the network namespace), user namespaces, and the kernel
 * attack surface the service never uses. */
static const char *const service_denied[] = {
        "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "bpf", "perf_event_open",
        "keyctl", "add_key", "request_key", "userfaultfd", "setns", "pivot_root", "chroot",
        "io_uring_setup", "io_uring_enter", "io_uring_register",
        "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
        "open_by_handle_at", "name_to_handle_at", "swapon", "swapoff", "reboot", "acct", "quotactl",
        "syslog", "iopl", "ioperm", "fanotify_init", "lookup_dcookie", "settimeofday", "clock_settime",
        "adjtimex", "clock_adjtime", "personality", "vhangup", "nfsservctl",
        NULL,
};

int seccomp_service_filter_new(scmp_filter_ctx *ret) {
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
        int r;
        if (!ctx)
                return -ENOMEM;
        if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) < 0)
                goto fail;
        struct scmp_arg_cmp not_unix = SCMP_A0(SCMP_CMP_NE, AF_UNIX);
        if ((r = add(ctx, SCMP_ACT_ERRNO(EACCES), "socket", 1, &not_unix)) < 0 ||
            (r = add(ctx, SCMP_ACT_ERRNO(EACCES), "socketpair", 1, &not_unix)) < 0)
                goto fail;
        for (size_t i = 0; service_denied[i]; i++)
                if ((r = add(ctx, SCMP_ACT_ERRNO(EPERM), service_denied[i], 0, NULL)) < 0)
                        goto fail;
        struct scmp_arg_cmp newuser = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER);
        if ((r = add(ctx, SCMP_ACT_ERRNO(EPERM), "clone", 1, &newuser)) < 0 ||
            (r = add(ctx, SCMP_ACT_ERRNO(EPERM), "unshare", 1, &newuser)) < 0 ||
            (r = add(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL)) < 0)
                goto fail;
        *ret = ctx;
        return 0;
fail:
        seccomp_release(ctx);
        return r < 0 ? r : -EINVAL;
}

int seccomp_filter_load(scmp_filter_ctx ctx, bool exec_notify) {
        int r = seccomp_load(ctx);
        if (r < 0)
                return r;
        if (!exec_notify)
                return 0;
        r = seccomp_notify_fd(ctx);
        return r < 0 ? (r == -1 ? -EIO : r) : r;
}
