/* The jail's seccomp filter (libseccomp). Default allow: Landlock, the
 * namespaces and the uid are the boundary; this removes kernel attack
 * surface and gives upstream-compatible errors (DNS needs socket() ->
 * EACCES to print "[Errno -2] Name or service not known"). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <linux/sched.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>

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

/* Syscalls newer than the libseccomp we may be built against: their
 * native numbers, so a filter never silently misses them. */
static int resolve(const char *name) {
        int nr = seccomp_syscall_resolve_name(name);
#ifdef __x86_64__
        if (nr == __NR_SCMP_ERROR && strcmp(name, "fchmodat2") == 0)
                nr = 452;
#endif
        return nr;
}

static int add(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned n, const struct scmp_arg_cmp *cmp) {
        int nr = resolve(name);
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
        /* ProtectHostname= (the UTS namespace is private as well) */
        "sethostname", "setdomainname",
        /* RestrictRealtime= for sched_setattr (its policy is in memory) */
        "sched_setattr",
        /* SystemCallFilter=~@cpu-emulation ~@obsolete, where they exist */
        "modify_ldt", "vm86", "vm86old", "subpage_prot", "switch_endian", "_sysctl", "afs_syscall",
        "create_module", "get_kernel_syms", "getpmsg", "putpmsg", "query_module", "security", "sysfs",
        "tuxcall", "uselib", "ustat", "vserver", "bdflush", "break", "ftime", "gtty", "idle", "lock", "mpx",
        "prof", "profil", "sgetmask", "ssetmask", "stime", "stty", "ulimit",
        NULL,
};

/* What systemd's argument-filtering options would add (the unit leaves
 * them to us, see units/codejail@.service): returns 0 or -errno. */
static int add_argument_rules(scmp_filter_ctx ctx) {
        int r;
        /* MemoryDenyWriteExecute=: no mapping both writable and executable. */
        static const char *const prot_calls[] = { "mmap", "mprotect", "pkey_mprotect" };
        struct scmp_arg_cmp wx = SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_WRITE | PROT_EXEC, PROT_WRITE | PROT_EXEC);
        for (size_t i = 0; i < ELEMENTSOF(prot_calls); i++)
                if ((r = add(ctx, SCMP_ACT_ERRNO(EPERM), prot_calls[i], 1, &wx)) < 0)
                        return r;
        struct scmp_arg_cmp shm_exec = SCMP_A2(SCMP_CMP_MASKED_EQ, SHM_EXEC, SHM_EXEC);
        if ((r = add(ctx, SCMP_ACT_ERRNO(EPERM), "shmat", 1, &shm_exec)) < 0)
                return r;

        /* RestrictSUIDSGID=: no set-user/group-ID bit set or created. */
        static const struct {
                const char *name;
                unsigned mode_arg; /* index of the mode argument */
                int flags_arg;     /* index of the open flags, or -1 */
        } modes[] = {
                { "chmod", 1, -1 },  { "fchmod", 1, -1 },  { "fchmodat", 2, -1 }, { "fchmodat2", 2, -1 },
                { "mknod", 1, -1 },  { "mknodat", 2, -1 }, { "creat", 1, -1 },    { "open", 2, 1 },
                { "openat", 3, 2 },
        };
        static const unsigned long bits[] = { S_ISUID, S_ISGID };
        for (size_t i = 0; i < ELEMENTSOF(modes); i++)
                for (size_t b = 0; b < ELEMENTSOF(bits); b++) {
                        struct scmp_arg_cmp c[2] = {
                                { .arg = modes[i].mode_arg, .op = SCMP_CMP_MASKED_EQ, .datum_a = bits[b], .datum_b = bits[b] },
                                { .arg = (unsigned)modes[i].flags_arg, .op = SCMP_CMP_MASKED_EQ, .datum_a = O_CREAT, .datum_b = O_CREAT },
                        };
                        if ((r = add(ctx, SCMP_ACT_ERRNO(EPERM), modes[i].name, modes[i].flags_arg >= 0 ? 2 : 1, c)) < 0)
                                return r;
                }
        /* openat2 carries its mode in memory: glibc never needs it. */
        if ((r = add(ctx, SCMP_ACT_ERRNO(ENOSYS), "openat2", 0, NULL)) < 0)
                return r;

        /* RestrictRealtime=: no FIFO, RR or DEADLINE policy (the kernel
         * already refuses them without CAP_SYS_NICE and RLIMIT_RTPRIO). */
        static const unsigned long rt[] = { SCHED_FIFO, SCHED_RR, 6 /* SCHED_DEADLINE */ };
        for (size_t i = 0; i < ELEMENTSOF(rt); i++) {
                struct scmp_arg_cmp c = SCMP_A1(SCMP_CMP_MASKED_EQ, ~(unsigned long)SCHED_RESET_ON_FORK & 0xffffffffUL, rt[i]);
                if ((r = add(ctx, SCMP_ACT_ERRNO(EPERM), "sched_setscheduler", 1, &c)) < 0)
                        return r;
        }

        /* RestrictNamespaces=mnt pid net ipc uts: never a user, cgroup or
         * time namespace (the jail needs the other five). clone()'s low
         * byte is the exit signal, so CLONE_NEWTIME only for unshare(). */
        static const unsigned long clone_ns[] = { CLONE_NEWUSER, CLONE_NEWCGROUP };
        static const unsigned long unshare_ns[] = { CLONE_NEWUSER, CLONE_NEWCGROUP, CLONE_NEWTIME };
        for (size_t i = 0; i < ELEMENTSOF(clone_ns); i++) {
                struct scmp_arg_cmp c = SCMP_A0(SCMP_CMP_MASKED_EQ, clone_ns[i], clone_ns[i]);
                if ((r = add(ctx, SCMP_ACT_ERRNO(EPERM), "clone", 1, &c)) < 0)
                        return r;
        }
        for (size_t i = 0; i < ELEMENTSOF(unshare_ns); i++) {
                struct scmp_arg_cmp c = SCMP_A0(SCMP_CMP_MASKED_EQ, unshare_ns[i], unshare_ns[i]);
                if ((r = add(ctx, SCMP_ACT_ERRNO(EPERM), "unshare", 1, &c)) < 0)
                        return r;
        }
        return 0;
}

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
        if ((r = add_argument_rules(ctx)) < 0 || (r = add(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL)) < 0)
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
