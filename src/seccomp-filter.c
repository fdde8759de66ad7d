/* SPDX-License-Identifier: Apache-2.0 */
/* The seccomp filters, as libseccomp rules. Built at build time only
 * (seccomp-gen.c turns them into BPF for seccomp-load.c; the unit tests
 * check the shipped BPF against them), never per request.
 *
 * The jail's filter: default allow: Landlock, the namespaces and the uid are
 * the boundary; this removes kernel attack surface and gives
 * upstream-compatible errors (DNS needs socket() -> EACCES to print
 * "[Errno -2] Name or service not known"). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <linux/sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
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
        /* host-wide uptime, load averages, memory and process count: a
         * side channel on other executions. glibc's getloadavg() then
         * fails, and its sysconf(_SC_PHYS_PAGES/_SC_AVPHYS_PAGES), which
         * does not check sysinfo()'s result, tells nothing of the host */
        "sysinfo",
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

/* EPERM for `name` whenever its first argument has any of flags[] set
 * (clone()/unshare() and namespace flags). */
static int deny_flags(scmp_filter_ctx ctx, const char *name, const unsigned long *flags, size_t n) {
        for (size_t i = 0; i < n; i++) {
                struct scmp_arg_cmp c = SCMP_A0(SCMP_CMP_MASKED_EQ, flags[i], flags[i]);
                int r = add(ctx, SCMP_ACT_ERRNO(EPERM), name, 1, &c);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Every filter: a foreign architecture kills the process, and the rules
 * are laid out as a binary tree (fewer instructions per system call). */
static int filter_init(uint32_t default_action, scmp_filter_ctx *ret) {
        scmp_filter_ctx ctx = seccomp_init(default_action);
        int r;
        if (!ctx)
                return -ENOMEM;
        if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) < 0 ||
            (r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2)) < 0) {
                seccomp_release(ctx);
                return r;
        }
        *ret = ctx;
        return 0;
}

int seccomp_filter_new(bool exec_notify, scmp_filter_ctx *ret) {
        scmp_filter_ctx ctx;
        int r = filter_init(SCMP_ACT_ALLOW, &ctx);
        if (r < 0)
                return r;

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
        if ((r = deny_flags(ctx, "clone", ns_flags, ELEMENTSOF(ns_flags))) < 0 ||
            (r = add(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL)) < 0)
                goto fail;

        /* No subreaper but the jail's init: orphans are its to reap, and
         * it counts what each used as it does (pace.h). A subreaper of the
         * program's own that ignores SIGCHLD would have them reaped unseen. */
        struct scmp_arg_cmp subreaper = SCMP_A0(SCMP_CMP_EQ, PR_SET_CHILD_SUBREAPER);
        if ((r = add(ctx, SCMP_ACT_ERRNO(EPERM), "prctl", 1, &subreaper)) < 0)
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
 * mount and the new mount API, pivot_root (root.c), setresuid, Landlock,
 * seccomp, execve of the interpreter -- so it denies only: sockets other than AF_UNIX (no egress
 * even without the network namespace), user namespaces, and the kernel
 * attack surface the service never uses. */
static const char *const service_denied[] = {
        "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "bpf", "perf_event_open",
        "keyctl", "add_key", "request_key", "userfaultfd", "setns", "chroot",
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

/* The service's allow-list: systemd 252's SystemCallFilter=@system-service
 * @mount seccomp landlock_create_ruleset landlock_add_rule
 * landlock_restrict_self (what codejail@.service once asked systemd for),
 * expanded with `systemd-analyze syscall-filter` on Debian 12.
 * Names this architecture lacks are skipped. Everything else answers
 * EPERM (SystemCallErrorNumber=EPERM). */
static const char *const service_allowed[] = {
        "_llseek", "_newselect", "accept", "accept4", "access", "add_key", "alarm", "arch_prctl",
        "arm_fadvise64_64", "bind", "brk", "cacheflush", "capget", "capset", "chdir", "chmod", "chown",
        "chown32", "chroot", "clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64",
        "clock_nanosleep", "clock_nanosleep_time64", "clone", "clone3", "close", "close_range", "connect",
        "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl",
        "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2",
        "execve", "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64", "fadvise64_64",
        "fallocate", "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32", "fchownat", "fcntl",
        "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr", "fsconfig",
        "fsetxattr", "fsmount", "fsopen", "fspick", "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64",
        "fsync", "ftruncate", "ftruncate64", "futex", "futex_time64", "futex_waitv", "futimesat",
        "get_mempolicy", "get_robust_list", "get_thread_area", "getcpu", "getcwd", "getdents", "getdents64",
        "getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32",
        "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getrandom",
        "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit", "getrusage", "getsid",
        "getsockname", "getsockopt", "gettid", "gettimeofday", "getuid", "getuid32", "getxattr",
        "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel", "io_destroy",
        "io_getevents", "io_pgetevents", "io_pgetevents_time64", "io_setup", "io_submit", "io_uring_enter",
        "io_uring_register", "io_uring_setup", "ioctl", "ioprio_get", "ioprio_set", "ipc", "kcmp", "keyctl",
        "kill", "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "lchown",
        "lchown32", "lgetxattr", "link", "linkat", "listen", "listxattr", "llistxattr", "lremovexattr",
        "lseek", "lsetxattr", "lstat", "lstat64", "madvise", "mbind", "membarrier", "memfd_create",
        "migrate_pages", "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap",
        "mmap2", "mount", "mount_setattr", "move_mount", "move_pages", "mprotect", "mq_getsetattr",
        "mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend",
        "mq_timedsend_time64", "mq_unlink", "mremap", "msgctl", "msgget", "msgrcv", "msgsnd", "msync",
        "munlock", "munlockall", "munmap", "name_to_handle_at", "nanosleep", "newfstatat", "nice", "oldfstat",
        "oldlstat", "oldolduname", "oldstat", "olduname", "open", "open_tree", "openat", "openat2", "pause",
        "personality", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pivot_root", "poll", "ppoll",
        "ppoll_time64", "prctl", "pread64", "preadv", "preadv2", "prlimit64", "process_madvise",
        "process_vm_readv", "process_vm_writev", "pselect6", "pselect6_time64", "pwrite64", "pwritev",
        "pwritev2", "read", "readahead", "readdir", "readlink", "readlinkat", "readv", "recv", "recvfrom",
        "recvmmsg", "recvmmsg_time64", "recvmsg", "remap_file_pages", "removexattr", "rename", "renameat",
        "renameat2", "request_key", "restart_syscall", "riscv_flush_icache", "riscv_hwprobe", "rmdir", "rseq",
        "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend",
        "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_get_priority_max",
        "sched_get_priority_min", "sched_getaffinity", "sched_getattr", "sched_getparam",
        "sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity",
        "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select", "semctl",
        "semget", "semop", "semtimedop", "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg",
        "sendmsg", "sendto", "set_mempolicy", "set_mempolicy_home_node", "set_robust_list", "set_thread_area",
        "set_tid_address", "set_tls", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid",
        "setgid32", "setgroups", "setgroups32", "setitimer", "setns", "setpgid", "setpriority", "setregid",
        "setregid32", "setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32",
        "setrlimit", "setsid", "setsockopt", "setuid", "setuid32", "setxattr", "shmat", "shmctl", "shmdt",
        "shmget", "shutdown", "sigaction", "sigaltstack", "signal", "signalfd", "signalfd4", "sigpending",
        "sigprocmask", "sigreturn", "sigsuspend", "socket", "socketcall", "socketpair", "splice", "stat",
        "stat64", "statfs", "statfs64", "statx", "swapcontext", "symlink", "symlinkat", "sync",
        "sync_file_range", "sync_file_range2", "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create",
        "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
        "timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime",
        "timerfd_settime64", "times", "tkill", "truncate", "truncate64", "ugetrlimit", "umask", "umount",
        "umount2", "uname", "unlink", "unlinkat", "unshare", "uretprobe", "userfaultfd", "utime", "utimensat",
        "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid", "waitpid", "write", "writev",
        NULL,
};

/* An allow-list filter: names (NULL-terminated) allowed, EPERM else. */
static int allow_list_new(const char *const *names, scmp_filter_ctx *ret) {
        scmp_filter_ctx ctx;
        int r = filter_init(SCMP_ACT_ERRNO(EPERM), &ctx);
        if (r < 0)
                return r;
        for (size_t i = 0; names[i]; i++)
                if ((r = add(ctx, SCMP_ACT_ALLOW, names[i], 0, NULL)) < 0) {
                        seccomp_release(ctx);
                        return r;
                }
        *ret = ctx;
        return 0;
}

int seccomp_allow_filter_new(scmp_filter_ctx *ret) {
        return allow_list_new(service_allowed, ret);
}

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
        if ((r = deny_flags(ctx, "clone", clone_ns, ELEMENTSOF(clone_ns))) < 0)
                return r;
        return deny_flags(ctx, "unshare", unshare_ns, ELEMENTSOF(unshare_ns));
}

int seccomp_service_filter_new(scmp_filter_ctx *ret) {
        scmp_filter_ctx ctx;
        int r = filter_init(SCMP_ACT_ALLOW, &ctx);
        if (r < 0)
                return r;
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


/* The unprivileged side of an instance (privsep.c): what it does on the
 * fds it was handed -- the connection, the socket to the privileged side,
 * the admission lock, the journal, stderr -- and nothing that opens,
 * mounts, spawns, changes identity or traces. Stacked on the service's
 * filters (inherited); everything else answers EPERM. */
static const char *const privsep_allowed[] = {
        "read", "write", "readv", "writev", "pread64", "close", "lseek",
        "recvfrom", "recvmsg", "sendto", "sendmsg", "shutdown", "getpeername", "getsockname",
        "getsockopt", "setsockopt",
        "poll", "ppoll", "select", "pselect6", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait",
        "clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "time",
        "mmap", "munmap", "mremap", "brk", "madvise", "mprotect",
        "fcntl", "fstat", "getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid",
        "getresuid", "getresgid", "getrusage", "getrandom", "capget",
        /* admission control's wait: SIGALRM, SIGIO, an interval timer */
        "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "setitimer", "getitimer", "alarm",
        "tgkill", "futex", "rseq", "sched_yield", "restart_syscall", "exit", "exit_group",
        NULL,
};

int seccomp_privsep_filter_new(scmp_filter_ctx *ret) {
        scmp_filter_ctx ctx;
        int r = allow_list_new(privsep_allowed, &ctx);
        if (r < 0)
                return r;
        /* glibc's fstat() is newfstatat(fd, "", AT_EMPTY_PATH): only that
         * form, never a path. */
        struct scmp_arg_cmp empty = SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH);
        if ((r = add(ctx, SCMP_ACT_ALLOW, "newfstatat", 1, &empty)) < 0)
                goto fail;
        /* prctl only to read its own state (the selfcheck's probes). */
        static const unsigned long reads[] = { PR_GET_NO_NEW_PRIVS, PR_GET_DUMPABLE, PR_CAPBSET_READ,
                                               PR_GET_SECUREBITS, PR_GET_SECCOMP };
        for (size_t i = 0; i < ELEMENTSOF(reads); i++) {
                struct scmp_arg_cmp c = SCMP_A0(SCMP_CMP_EQ, reads[i]);
                if ((r = add(ctx, SCMP_ACT_ALLOW, "prctl", 1, &c)) < 0)
                        goto fail;
        }
        struct scmp_arg_cmp is_set[2] = { SCMP_A0(SCMP_CMP_EQ, PR_CAP_AMBIENT),
                                          SCMP_A1(SCMP_CMP_EQ, PR_CAP_AMBIENT_IS_SET) };
        if ((r = add(ctx, SCMP_ACT_ALLOW, "prctl", 2, is_set)) < 0)
                goto fail;
        *ret = ctx;
        return 0;
fail:
        seccomp_release(ctx);
        return r < 0 ? r : -EINVAL;
}
