/* SPDX-License-Identifier: Apache-2.0 */
/* One confined execution.
 *
 * The privileged sequence (who runs each step, and why in this order):
 *
 *  instance split (privsep.c), before a byte of the request is read
 *   0. fork (unpriv.c): the child, with no capability, no_new_privs, Landlock and
 *      seccomp allowing only I/O on its fds, parses the request and the
 *      outcome; it hands this process a jail_request as an execmsg that
 *      is re-validated here (lengths, names, limits). From here on
 *      everything runs in the privileged parent, which never parses JSON
 *      or HTTP and never holds the connection.
 *  parent (the service, "supervisor"); steps 1-6 depend on no request and
 *  run while the child is still reading and parsing it (jail_prepare())
 *   1. build the Landlock ruleset (early, before fork: nsjail's habit;
 *      failures are ours, not the code's); the seccomp filter is BPF
 *      compiled at build time (seccomp-gen.c)
 *   2. take a random sandbox UID nobody else holds (OFD byte lock)
 *   3. make the jail dir /tmp/codejail-XXXXXXXX with an empty tmp/; 0755
 *      so the sandbox UID can read it. Its files -- jailed_code, the
 *      uploaded ones, 0644 -- once the request is there
 *      (jail_run_prepared()), before the go message (6a)
 *   4. clone() into new PID, mount, network, IPC and UTS namespaces
 *  init (PID 1 of the new PID namespace; our code, never exec'd)
 *   5. parent-death signal: if the supervisor dies, the execution dies
 *   5a. every descriptor of the instance's closed but its own ends and
 *      stderr (the connection, the parsing child's socket, the UID lock
 *      never reach the execution)
 *   5b. a fixed host and domain name (ns.h), in the init's own UTS
 *      namespace (else the serving process's, named when it was made)
 *   6. a fresh root from an allow list (root.c): the interpreter's trees,
 *      a few measured /etc files, five device nodes, read-only, and the
 *      jail dir (not a read-only mount: writes there get upstream's EACCES
 *      from its owner and Landlock); pivot_root into it, the host's root
 *      detached; a procfs of the new PID namespace, the init's /proc/1
 *      covered by a stand-in
 *   6a. wait for the supervisor's go message: the request's limits (EOF:
 *      no request came, leave); then the size-capped tmpfs on tmp/
 *   7. Landlock rule for tmp/ (a rule binds the inode: after the mount)
 *   8. fork the child; then reap until it exits, report its wait status
 *      and exit -- which kills every other process of the execution.
 *      Paced (pace.h): meanwhile look at the namespace's CPU time, stop or
 *      continue its processes when the supervisor says, and exit at once
 *      if a paused execution runs
 *  child (becomes Python)
 *   9. rlimits (CPU, FSIZE, NPROC, CORE; AS just before execve, step 18)
 *  10. stdio from the pipes, every other fd closed (close_range)
 *  11. bounding set emptied while still privileged
 *  12. setgroups(0) -> setresgid -> setresuid, verified; caps emptied
 *  13. parent-death signal again (setresuid clears it)
 *  14. aa_change_onexec into the sandbox profile (when AppArmor is there)
 *  15. no_new_privs
 *  16. landlock_restrict_self
 *  17. seccomp, always last; its notification fd goes to the supervisor,
 *      which allows exactly this one execve and refuses every later one
 *  18. execve(python_bin, -E -B jailed_code) with an explicit environment
 *
 * Set-up failures travel to the supervisor as {step, errno} on a CLOEXEC
 * socket the untrusted program never holds -- never as exit codes or
 * signals, which the program could fake. The wall-clock limit kills the
 * init through its pidfd; the kernel then kills the whole PID namespace.
 * The supervisor only ever removes the files it wrote: what the jail writes
 * lives in its own tmpfs and vanishes with its mount namespace. */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "apparmor.h"
#include "creds.h"
#include "fdio.h"
#include "jail.h"
#include "landlock.h"
#include "log.h"
#include "macro.h"
#include "ns.h"
#include "pace.h"
#include "rlimit.h"
#include "root.h"
#include "seccomp-load.h"
#include "uidpick.h"
#include "wrapper.h"

#ifdef CODEJAIL_SABOTAGE
static unsigned sabotage = ~0u; /* parsed lazily */
static const struct {
        const char *name;
        unsigned bit;
} layer_names[] = {
        { "landlock", LAYER_LANDLOCK }, { "seccomp", LAYER_SECCOMP },   { "uid", LAYER_UID },
        { "namespaces", LAYER_NAMESPACES }, { "mounts", LAYER_MOUNTS }, { "rlimits", LAYER_RLIMITS },
        { "caps", LAYER_CAPS },         { "nnp", LAYER_NNP },           { "exec_once", LAYER_EXEC_ONCE },
        { "apparmor", LAYER_APPARMOR }, { "netns_self", LAYER_NETNS_SELF },
        { "self_seccomp", LAYER_SELF_SECCOMP }, { "self_caps", LAYER_SELF_CAPS },
        { "self_dumpable", LAYER_SELF_DUMPABLE }, { "self_mounts", LAYER_SELF_MOUNTS },
        { "self_ns", LAYER_SELF_NS }, { "self_scope", LAYER_SELF_SCOPE }, { "root", LAYER_ROOT },
        { "admission", LAYER_ADMISSION }, { "privsep", LAYER_PRIVSEP }, { "pacing", LAYER_PACING },
};
unsigned jail_sabotaged_layers(void) {
        if (sabotage != ~0u)
                return sabotage;
        sabotage = 0;
        const char *e = getenv("CODEJAIL_SABOTAGE");
        if (!e)
                return 0;
        char buf[512];
        snprintf(buf, sizeof buf, "%s", e);
        for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
                for (size_t i = 0; i < ELEMENTSOF(layer_names); i++)
                        if (streq_safe(t, "all") || streq_safe(t, layer_names[i].name))
                                sabotage |= layer_names[i].bit;
        /* Without a mount namespace, mounting would change the host. */
        if (sabotage & LAYER_NAMESPACES)
                sabotage |= LAYER_MOUNTS;
        if (sabotage & LAYER_MOUNTS)
                sabotage |= LAYER_ROOT;
        /* Landlock and seccomp both need no_new_privs once caps are gone. */
        if (sabotage & LAYER_NNP)
                sabotage |= LAYER_LANDLOCK | LAYER_SECCOMP;
        return sabotage;
}
#else
unsigned jail_sabotaged_layers(void) { return 0; }
#endif

/* Set once the serving process has unshared a network namespace of its own:
 * each instance serves exactly one request, so that namespace -- loopback
 * down, no other process, nothing bound -- is already fresh and private to
 * this one execution, and the jail joins it instead of paying for another
 * (a network namespace costs ~0.4 ms to create and more to tear down, per
 * request). A namespace we merely found ourselves in (PrivateNetwork=, a
 * test harness's loopback) may hold listeners: the jail gets its own. */
static bool self_netns_private;
/* The same for the UTS and IPC namespaces the serving process made. */
static bool self_uts_ipc_private;

enum {
        CTL_ERROR = 1, CTL_NOTIFY_FD, CTL_STATUS, CTL_GO, CTL_CPU_BOUND, CTL_PAUSE, CTL_RESUME, CTL_CPU_IDLE,
        CTL_ESCAPED
};

/* The supervisor's messages to the init: run, with these limits (and
 * report when the execution is CPU-bound: pace.h); later, pause or
 * resume it. */
struct ctl_go {
        uint32_t type; /* CTL_GO, CTL_PAUSE, CTL_RESUME */
        uint32_t pace;
        struct limits limits;
};

struct ctl_msg {
        uint32_t type;
        int32_t error;   /* positive errno (CTL_ERROR) */
        int32_t wstatus; /* CTL_STATUS */
        char step[40];
        uint64_t cpu_us, maxrss_kb; /* CTL_STATUS: what the init reaped; CTL_CPU_BOUND */
        char label[96];             /* CTL_STATUS: the program's AppArmor label */
};

#define JAIL_FD_CTL 3     /* the child's control socket */
#define JAIL_FD_RULESET 4 /* the Landlock ruleset until it is enforced */

static uint64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t rusage_cpu_us(const struct rusage *ru) {
        return (uint64_t)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1000000 +
               (uint64_t)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec);
}

static void ctl_send(int fd, const struct ctl_msg *m, int pass_fd) {
        struct iovec iov = { .iov_base = (void *)m, .iov_len = sizeof *m };
        union {
                char buf[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } u;
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        if (pass_fd >= 0) {
                memset(&u, 0, sizeof u);
                mh.msg_control = u.buf;
                mh.msg_controllen = sizeof u.buf;
                struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
        }
        while (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0 && errno == EINTR)
                ;
}

/* Report a set-up failure and leave; only ever called before execve. */
_noreturn_ static void child_fail(int ctl, const char *step, int negerr) {
        struct ctl_msg m = { .type = CTL_ERROR, .error = negerr < 0 ? -negerr : EIO };
        snprintf(m.step, sizeof m.step, "%s", step);
        ctl_send(ctl, &m, -1);
        _exit(127);
}

struct jail_ctx {
        const struct config *cfg;
        const struct jail_request *req; /* the supervisor's, from jail_run_prepared() on */
        struct limits limits;           /* the init's and child's: from the go message */
        char jail_dir[64];
        uid_t uid;
        int ruleset, abi;
        const char *trees[4]; /* the interpreter's, in tree_buf */
        char tree_buf[3][4096];
        int in[2], out[2], err[2], ctl[2];
        bool use_apparmor, aa_stack;
        bool own_uts; /* the init's UTS namespace is its own (else the serving process's) */
};

/* Steps 9-18: never returns. */
_noreturn_ static void run_child(struct jail_ctx *j) {
        const char *step = "?";
        int ctl = j->ctl[1], r;

        /* Default signal dispositions and an empty mask: the service ignores
         * SIGPIPE, and ignored signals survive execve. */
        sigset_t none;
        sigemptyset(&none);
        for (int sig = 1; sig < _NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        signal(sig, SIG_DFL);
        if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
                child_fail(ctl, "sigmask", negative_errno());

        /* 9. */
        if (!SABOTAGED(LAYER_RLIMITS) && (r = rlimit_apply(&j->limits, &step)) < 0)
                child_fail(ctl, "rlimit", r);

        /* 10. stdio from the pipes, the control socket at 3, the Landlock
         * ruleset at 4 (both CLOEXEC), nothing else. Everything is first
         * moved above 10 so no dup2() target clobbers a source (in inetd
         * mode the connection itself is fd 0). */
        int hi[5] = { j->in[0], j->out[1], j->err[1], ctl, j->ruleset };
        for (int i = 0; i < 5; i++)
                if (hi[i] >= 0 && (hi[i] = fcntl(hi[i], F_DUPFD_CLOEXEC, 10)) < 0)
                        child_fail(ctl, "dupfd", negative_errno());
        ctl = hi[3];
        for (int i = 0; i < 3; i++)
                if (dup2(hi[i], i) < 0)
                        child_fail(ctl, "dup2", negative_errno());
        if (dup3(hi[3], JAIL_FD_CTL, O_CLOEXEC) < 0)
                child_fail(ctl, "dup3", negative_errno());
        ctl = JAIL_FD_CTL;
        j->ruleset = -1;
        if (hi[4] >= 0) {
                if (dup3(hi[4], JAIL_FD_RULESET, O_CLOEXEC) < 0)
                        child_fail(ctl, "dup3", negative_errno());
                j->ruleset = JAIL_FD_RULESET;
        }
        if (syscall(SYS_close_range, JAIL_FD_RULESET + 1, ~0u, 0) < 0)
                child_fail(ctl, "close_range", negative_errno());
        if (chdir(j->jail_dir) < 0)
                child_fail(ctl, "chdir", negative_errno());

        /* 11-13. */
        if (!SABOTAGED(LAYER_CAPS) && (r = creds_drop_bounding()) < 0)
                child_fail(ctl, "capbset", r);
        if (!SABOTAGED(LAYER_UID)) {
                if ((r = creds_become(j->uid, (gid_t)j->uid, &step)) < 0)
                        child_fail(ctl, step, r);
                if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
                        child_fail(ctl, "pdeathsig", negative_errno());
        }

        /* 14. */
        if (j->use_apparmor && (r = apparmor_change_onexec(j->cfg->apparmor_profile, j->aa_stack)) < 0)
                child_fail(ctl, "apparmor", r);

        /* 15-16. */
        if (!SABOTAGED(LAYER_NNP) && (r = creds_no_new_privs()) < 0)
                child_fail(ctl, "no_new_privs", r);
        if (!SABOTAGED(LAYER_LANDLOCK) && (r = landlock_enforce(j->ruleset)) < 0)
                child_fail(ctl, "landlock", r);
        if (j->ruleset >= 0)
                close(j->ruleset);

        /* 17. seccomp last; the supervisor gets the listener before we exec. */
        if (!SABOTAGED(LAYER_SECCOMP)) {
                bool notify = !SABOTAGED(LAYER_EXEC_ONCE);
                int nfd = seccomp_load_jail(notify);
                if (nfd < 0)
                        child_fail(ctl, "seccomp", nfd);
                if (notify) {
                        struct ctl_msg m = { .type = CTL_NOTIFY_FD };
                        ctl_send(ctl, &m, nfd);
                        close(nfd);
                }
        }

        /* 18. RLIMIT_AS only now (step 9 sets the others): nothing between
         * here and execve allocates, and an ASan build's shadow mappings
         * would fail under a small VMEM. */
        if (!SABOTAGED(LAYER_RLIMITS) && (r = rlimit_apply_vmem(&j->limits)) < 0)
                child_fail(ctl, "rlimit", r);
        char *const argv[] = { j->cfg->python_bin, "-E", "-B", "jailed_code", NULL };
        char *const envp[] = { "PATH=/usr/bin:/bin", "TMPDIR=tmp", "HOME=tmp", "LANG=C.UTF-8", NULL };
        execve(j->cfg->python_bin, argv, envp);
        child_fail(ctl, "execve", negative_errno());
}

#ifdef CODEJAIL_SABOTAGE
/* Sabotage build, namespaces off: kill and reap every process this init
 * adopted as subreaper until none is left (bounded). */
static void kill_adopted_children(void) {
        for (int round = 0; round < 200; round++) {
                DIR *d = opendir("/proc");
                struct dirent *e;
                char self[32], path[300], line[256];
                snprintf(self, sizeof self, "PPid:\t%d\n", (int)getpid());
                while (d && (e = readdir(d))) {
                        if (e->d_name[0] < '0' || e->d_name[0] > '9')
                                continue;
                        snprintf(path, sizeof path, "/proc/%s/status", e->d_name);
                        FILE *f = fopen(path, "re");
                        while (f && fgets(line, sizeof line, f))
                                if (strncmp(line, "PPid:", 5) == 0) {
                                        if (strcmp(line, self) == 0)
                                                kill(atoi(e->d_name), SIGKILL);
                                        break;
                                }
                        if (f)
                                fclose(f);
                }
                if (d)
                        closedir(d);
                int st;
                while (waitpid(-1, &st, WNOHANG | __WALL) > 0)
                        ;
                if (waitpid(-1, &st, WNOHANG | __WALL) < 0 && errno == ECHILD)
                        return;
                usleep(10000);
        }
}
#endif

/* Step 5a: of the instance's descriptors the init keeps only its own (the
 * control socket, the program's pipe ends, the Landlock ruleset) and
 * stderr, for what the C library or a sanitizer would have to say: not
 * the connection (fd 0 and 1 in inetd mode), the parsing child's socket,
 * the UID lock, the jail dir, the pidfd. stdin and stdout are closed too:
 * the init reads and writes neither, and the program's are set up from
 * the pipes (step 10). */
static int init_keep_fds(struct jail_ctx *j) {
        int *fields[] = { &j->ctl[1], &j->in[0], &j->out[1], &j->err[1], &j->ruleset };
        int keep[ELEMENTSOF(fields) + 1], n = 0;
        keep[n++] = STDERR_FILENO;
        /* In inetd mode the instance closed the connection's fd 0 before
         * the pipes were made: one of them may be below 3. */
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                if (*fields[i] < 0)
                        continue;
                if (*fields[i] <= STDERR_FILENO && (*fields[i] = fcntl(*fields[i], F_DUPFD_CLOEXEC, 3)) < 0)
                        return negative_errno();
                keep[n++] = *fields[i];
        }
        /* ascending: close what lies between */
        for (int a = 1; a < n; a++)
                for (int b = a; b > 0 && keep[b - 1] > keep[b]; b--) {
                        int t = keep[b];
                        keep[b] = keep[b - 1], keep[b - 1] = t;
                }
        unsigned lo = 0;
        for (int i = 0; i <= n; i++) {
                unsigned hi = i < n ? (unsigned)keep[i] : ~0u;
                if (hi > lo && syscall(SYS_close_range, lo, hi - 1, 0) < 0)
                        return negative_errno();
                lo = hi + 1;
        }
        return 0;
}

static void on_sigchld(int sig) {
        (void)sig; /* only to end the init's ppoll() */
}

/* Stop or continue every process of the namespace but the init:
 * kill(-1), which a fork racing with it cannot escape (the kernel gives
 * the new child the signal too). The init holds no CAP_KILL: for the call
 * its effective uid is the program's (kill(2) lets a sender whose
 * effective uid is the target's real uid signal it); its real and saved
 * uids stay the service's, so it takes its own back (its own: a service
 * running as a user of its own has no right to become 0, and 0 and back
 * would cost it its effective capabilities). PID 1 only: in a build without
 * the PID namespace kill(-1) would reach the whole host. */
static void init_signal_all(int ctl, uid_t uid, int sig) {
        uid_t self = geteuid(); /* the service's: 0, or its User= with ambient capabilities */
        if (getpid() != 1 || setresuid((uid_t)-1, uid, (uid_t)-1) < 0)
                return;
        (void)kill(-1, sig);
        /* A change of effective uid clears the parent-death signal (step
         * 5): set again, and a supervisor that died meanwhile is seen by
         * its end of the control socket. */
        struct pollfd p = { .fd = ctl, .events = POLLIN };
        if (setresuid((uid_t)-1, self, (uid_t)-1) < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 ||
            (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR))))
                _exit(127);
}

/* The init between two exits in its namespace: a supervisor's pause or
 * resume; and while the execution is paced, a look at its namespace's CPU
 * time when one is due (pace.h: CPU-bound, idle again, or undoing its
 * pause -- then the init leaves, and the kernel kills the namespace). */
static void init_wait(int ctl, uid_t uid, const sigset_t *waiting, struct pace_watch *pw, struct pace_tally *tally,
                      bool *ctl_open) {
        struct pollfd p = { .fd = *ctl_open ? ctl : -1, .events = POLLIN };
        uint64_t now = pw ? now_ms() : 0;
        struct timespec left = { 0 };
        if (pw && pw->next_ms > now)
                left = (struct timespec){ .tv_sec = (time_t)((pw->next_ms - now) / 1000),
                                          .tv_nsec = (long)((pw->next_ms - now) % 1000) * 1000000L };
        int n = ppoll(&p, 1, pw ? &left : NULL, waiting);
        if (n > 0 && p.revents) {
                struct ctl_go m;
                ssize_t k = recv(ctl, &m, sizeof m, MSG_DONTWAIT);
                if (k == (ssize_t)sizeof m && (m.type == CTL_PAUSE || m.type == CTL_RESUME)) {
                        init_signal_all(ctl, uid, m.type == CTL_PAUSE ? SIGSTOP : SIGCONT);
                        if (pw)
                                pace_watch_pause(pw, m.type == CTL_PAUSE, now_ms());
                } else if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR))
                        *ctl_open = false; /* the supervisor is gone; its death signal follows */
        }
        struct pace_sample smp;
        if (!pw || (now = now_ms()) < pw->next_ms || pace_namespace_look(tally, &smp) < 0)
                return;
        static const uint32_t tell[] = { [PACE_REPORT_CPU_BOUND] = CTL_CPU_BOUND, [PACE_REPORT_IDLE] = CTL_CPU_IDLE,
                                         [PACE_REPORT_ESCAPED] = CTL_ESCAPED };
        enum pace_report r = pace_watch_look(pw, now, &smp);
        if (r == PACE_REPORT_NONE)
                return;
        struct ctl_msg m = { .type = tell[r], .cpu_us = smp.cpu_ms * 1000 };
        ctl_send(ctl, &m, -1);
        if (r == PACE_REPORT_ESCAPED)
                _exit(0);
}

/* Steps 5-8: PID 1 of the execution. Never returns. */
_noreturn_ static void run_init(struct jail_ctx *j) {
        const char *step = "?";
        int ctl = j->ctl[1], r = 0;

        close(j->ctl[0]);
        close(j->in[1]);
        close(j->out[0]);
        close(j->err[0]);

        /* 5. If the supervisor dies, so does the execution. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
                child_fail(ctl, "pdeathsig", negative_errno());

        /* 5a. */
        if ((r = init_keep_fds(j)) < 0)
                child_fail(ctl, "close-fds", r);
        ctl = j->ctl[1]; /* moved above 2 if it was below */

        /* 5b. A fixed host and domain name, not the host's: set here when
         * this UTS namespace is the init's own, else the serving process
         * set it when it made the one it shares with the execution. */
        if (j->own_uts && (r = ns_set_identity()) < 0)
                child_fail(ctl, "identity", r);

        /* 6. The root, all but tmp/, whose size is the request's. */
        uid_t owner = SABOTAGED(LAYER_UID) ? getuid() : j->uid;
        struct root_spec spec = {
                .jail_dir = j->jail_dir, .trees = j->trees, .defer_tmp = true,
                .uid = owner, .gid = (gid_t)owner,
        };
        if (!SABOTAGED(LAYER_ROOT))
                r = root_build(&spec, &step);
        else if (!SABOTAGED(LAYER_MOUNTS))
                r = root_build_on_host(&spec, &step);
        if (r < 0)
                child_fail(ctl, step, r);

        /* 6a. Wait for the request: until here nothing depended on it
         * (jail_prepare()). A supervisor that goes away instead (no
         * request came) ends this init: EOF, or its death signal. */
        struct ctl_go go;
        ssize_t n;
        while ((n = recv(ctl, &go, sizeof go, 0)) < 0 && errno == EINTR)
                ;
        if (n == 0)
                _exit(0);
        if (n != (ssize_t)sizeof go || go.type != CTL_GO)
                child_fail(ctl, "go", n < 0 ? negative_errno() : -EPROTO);
        j->limits = go.limits;
        spec.tmpfs_bytes = (uint64_t)j->limits.v[LIMIT_TMPFS];
        if (!SABOTAGED(LAYER_MOUNTS) && (r = root_mount_tmp(&spec, &step)) < 0)
                child_fail(ctl, step, r);

        /* 7. */
        if (!SABOTAGED(LAYER_LANDLOCK)) {
                char tmp[128];
                snprintf(tmp, sizeof tmp, "%s/tmp", j->jail_dir);
                _cleanup_close_ int tfd = open(tmp, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
                if (tfd < 0)
                        child_fail(ctl, "open-tmp", negative_errno());
                if ((r = landlock_allow_rw(j->ruleset, tfd, j->abi)) < 0)
                        child_fail(ctl, "landlock-tmp", r);
        }

#ifdef CODEJAIL_SABOTAGE
        /* Without a PID namespace nothing kills what the code leaves behind;
         * adopt the orphans so they can be killed below. */
        if (SABOTAGED(LAYER_NAMESPACES))
                (void)prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
#endif

        /* 8. SIGCHLD blocked but while the init waits (init_wait()); the
         * child unblocks it and resets the handler (step 9's defaults). */
        sigset_t chld, waiting;
        struct sigaction sa = { .sa_handler = on_sigchld };
        sigemptyset(&sa.sa_mask);
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        if (sigaction(SIGCHLD, &sa, NULL) < 0 || sigprocmask(SIG_BLOCK, &chld, &waiting) < 0)
                child_fail(ctl, "sigchld", negative_errno());
        sigdelset(&waiting, SIGCHLD);
        pid_t child = fork();
        if (child < 0)
                child_fail(ctl, "fork", negative_errno());
        if (child == 0)
                run_child(j);

        close(j->in[0]);
        close(j->out[1]);
        close(j->err[1]);
        if (j->ruleset >= 0)
                close(j->ruleset);
        struct pace_watch watch;
        static struct pace_tally tally; /* 64 KiB: not on the stack */
        uint64_t seed = 0;
        if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != sizeof seed)
                seed = now_ms();
        pace_watch_begin(&watch, now_ms(), seed);
        bool ctl_open = true;
        for (;;) {
                /* Look before reaping: while the program is a zombie its
                 * AppArmor label can still be read, from outside, for the
                 * supervisor's log and the selfcheck. */
                siginfo_t si = { 0 };
                if (waitid(P_ALL, 0, &si, WEXITED | __WALL | WNOWAIT | WNOHANG) < 0) {
                        if (errno == EINTR)
                                continue;
                        _exit(0);
                }
                if (si.si_pid == 0) {
                        init_wait(ctl, SABOTAGED(LAYER_UID) ? getuid() : j->uid, &waiting, go.pace ? &watch : NULL,
                                  &tally, &ctl_open);
                        continue;
                }
                /* An orphan's CPU, all of it, before it is gone. */
                if (go.pace && si.si_pid != child)
                        pace_tally_reaped(&tally, si.si_pid);
                struct ctl_msg m = { .type = CTL_STATUS };
                if (si.si_pid == child && j->use_apparmor)
                        (void)apparmor_label_of(child, m.label, sizeof m.label);
                int st;
                while (waitpid(si.si_pid, &st, __WALL) < 0 && errno == EINTR)
                        ;
                if (si.si_pid == child) {
                        /* The program's usage travels with its status, so
                         * the supervisor can answer without waiting for
                         * this init (and the namespaces) to go away. */
                        struct rusage ru = { 0 };
                        (void)getrusage(RUSAGE_CHILDREN, &ru);
                        m.wstatus = st;
                        m.cpu_us = rusage_cpu_us(&ru);
                        m.maxrss_kb = (uint64_t)ru.ru_maxrss;
                        ctl_send(ctl, &m, -1);
#ifdef CODEJAIL_SABOTAGE
                        if (SABOTAGED(LAYER_NAMESPACES))
                                kill_adopted_children();
#endif
                        /* Leaving kills every other process of the namespace. */
                        _exit(0);
                }
        }
}

/* Step 3. */
static int jail_dir_create(struct jail_ctx *j, int *dfd_out) {
        static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789_";
        for (int attempt = 0; attempt < 100; attempt++) {
                unsigned char rnd[8];
                if (getrandom(rnd, sizeof rnd, 0) != sizeof rnd)
                        return negative_errno();
                char name[9];
                for (int i = 0; i < 8; i++)
                        name[i] = alphabet[rnd[i] % (sizeof alphabet - 1)];
                name[8] = '\0';
                snprintf(j->jail_dir, sizeof j->jail_dir, "/tmp/codejail-%s", name);
                if (mkdir(j->jail_dir, 0700) == 0)
                        break;
                if (errno != EEXIST)
                        return negative_errno();
                j->jail_dir[0] = '\0';
        }
        if (!j->jail_dir[0])
                return -EEXIST;
        int dfd = open(j->jail_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (dfd < 0)
                return negative_errno();
        *dfd_out = dfd;
        return 0;
}

static int write_file_at(int dfd, const char *name, const void *data, size_t len) {
        if (!name[0] || strchr(name, '/') || streq_safe(name, ".") || streq_safe(name, ".."))
                return -EINVAL;
        _cleanup_close_ int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
                return negative_errno();
        int r = fd_write_all(fd, data, len);
        if (r < 0)
                return r;
        if (fchmod(fd, 0644) < 0)
                return negative_errno();
        return 0;
}

static int jail_dir_populate(struct jail_ctx *j, int dfd) {
        size_t wlen;
        _cleanup_free_ char *w = wrapper_build(j->req->n_python_path, &wlen);
        if (!w)
                return -ENOMEM;
        int r = write_file_at(dfd, "jailed_code", w, wlen);
        if (r < 0)
                return r;
        for (size_t i = 0; i < j->req->n_files; i++)
                if ((r = write_file_at(dfd, j->req->files[i].name, j->req->files[i].data, j->req->files[i].len)) < 0)
                        return r;
        if (mkdirat(dfd, "tmp", 0755) < 0)
                return negative_errno();
        if (fchmod(dfd, 0755) < 0)
                return negative_errno();
        return 0;
}

#ifdef CODEJAIL_SABOTAGE
/* Without the jail's own tmpfs (sabotage only), tmp/ holds what the code
 * wrote; remove it without following links. */
static void rm_rf_at(int dfd, const char *name) {
        int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
                DIR *d = fdopendir(fd);
                struct dirent *e;
                while (d && (e = readdir(d)))
                        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                                rm_rf_at(fd, e->d_name);
                if (d)
                        closedir(d);
                unlinkat(dfd, name, AT_REMOVEDIR);
        } else
                unlinkat(dfd, name, 0);
}
#endif

/* Remove only what we wrote: first the files (as soon as the program is
 * gone), then, once the init is gone too, tmp/ -- an empty directory in our
 * mount namespace (the jail wrote into its own tmpfs) -- and the dir. */
static void jail_dir_remove_files(struct jail_ctx *j, int dfd) {
        if (dfd < 0)
                return;
        unlinkat(dfd, "jailed_code", 0);
        for (size_t i = 0; i < j->req->n_files; i++)
                unlinkat(dfd, j->req->files[i].name, 0);
}

static void jail_dir_remove(const char *dir, int dfd) {
        if (dfd < 0)
                return;
#ifdef CODEJAIL_SABOTAGE
        if (SABOTAGED(LAYER_MOUNTS))
                rm_rf_at(dfd, "tmp");
#endif
        if (unlinkat(dfd, "tmp", AT_REMOVEDIR) < 0 && errno != ENOENT)
                log_error("jail %s: tmp/ not removed: %m", dir);
        if (rmdir(dir) < 0)
                log_error("jail %s: not removed: %m", dir);
}

static int clone_init(unsigned flags, int *pidfd) {
        /* fork-like clone (no new stack): the child continues here. glibc's
         * cached TID is stale in it, so it must not raise()/pthread_kill. */
        return (int)syscall(SYS_clone, (unsigned long)(flags | CLONE_PIDFD | SIGCHLD), NULL, pidfd, NULL, 0);
}

static int recv_ctl(int fd, struct ctl_msg *m, int *passed_fd, pid_t *sender) {
        union {
                char buf[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(struct ucred))];
                struct cmsghdr align;
        } u;
        struct iovec iov = { .iov_base = m, .iov_len = sizeof *m };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
        ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
        if (n < 0)
                return negative_errno();
        if (n == 0)
                return 0;
        *passed_fd = -1;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
                        memcpy(passed_fd, CMSG_DATA(c), sizeof(int));
                else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
                        struct ucred uc;
                        memcpy(&uc, CMSG_DATA(c), sizeof uc);
                        *sender = uc.pid;
                }
        }
        if ((size_t)n != sizeof *m || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
                if (*passed_fd >= 0)
                        close(*passed_fd);
                return -EBADMSG;
        }
        return 1;
}

/* Answer one execve notification: only the interpreter launch, from the
 * child we forked, before anything else ran, is allowed. Its arguments
 * were written by us and no other thread exists yet, so CONTINUE is safe. */
static void answer_exec(int nfd, pid_t expected, int *execs_allowed) {
        struct seccomp_notif req;
        struct seccomp_notif_resp resp;
        memset(&req, 0, sizeof req); /* NOTIF_RECV wants it zeroed */
        if (ioctl(nfd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
                return;
        memset(&resp, 0, sizeof resp);
        resp.id = req.id;
        if (*execs_allowed == 0 && expected > 0 && (pid_t)req.pid == expected) {
                resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
                (*execs_allowed)++;
        } else
                resp.error = -EACCES;
        /* ENOENT: the caller died meanwhile; nothing to do. */
        (void)ioctl(nfd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
}

/* The listener reports POLLHUP for the rest of the execution once the
 * interpreter runs (kernel 6.x), so poll() on it would spin. It is watched
 * edge-triggered through an epoll fd instead, and on each edge every
 * pending notification is answered (NOTIF_RECV blocks when none is). */
static void answer_pending_execs(int efd, int nfd, pid_t expected, int *execs_allowed) {
        struct epoll_event ev;
        while (epoll_wait(efd, &ev, 1, 0) > 0)
                ;
        for (;;) {
                struct pollfd p = { .fd = nfd, .events = POLLIN };
                if (poll(&p, 1, 0) <= 0 || !(p.revents & POLLIN))
                        return;
                answer_exec(nfd, expected, execs_allowed);
        }
}

struct capture {
        int fd;
        char *buf;
        size_t len, cap;
};

/* Returns 1 while open, 0 at EOF, -1 when over the OUTPUT limit. */
static int capture_read(struct capture *c, size_t limit) {
        char tmp[65536];
        ssize_t n = read(c->fd, tmp, sizeof tmp);
        if (n < 0)
                return (errno == EINTR || errno == EAGAIN) ? 1 : 0;
        if (n == 0)
                return 0;
        size_t keep = (size_t)n;
        if (c->len + keep > limit)
                keep = limit - c->len;
        if (c->len + keep > c->cap) {
                size_t ncap = c->cap ? c->cap * 2 : 65536;
                while (ncap < c->len + keep)
                        ncap *= 2;
                char *nb = realloc(c->buf, ncap + 1);
                if (!nb)
                        return -1;
                c->buf = nb, c->cap = ncap;
        }
        memcpy(c->buf + c->len, tmp, keep);
        c->len += keep;
        return keep < (size_t)n ? -1 : 1;
}

static void close_pair(int p[2]) {
        for (int i = 0; i < 2; i++)
                if (p[i] >= 0)
                        close(p[i]), p[i] = -1;
}

static void set_err(struct jail_error *err, const char *step, int negerr) {
        snprintf(err->step, sizeof err->step, "%s", step);
        err->error = negerr < 0 ? -negerr : EIO;
}

/* One running execution as supervise() sees it. */
struct watch {
        struct jail_ctx *j;
        pid_t init, child_pid;
        int pidfd, in_fd, ctl, nfd, efd, stop_fd, execs, wstatus, r;
        uint64_t deadline;
        size_t out_limit, in_left;
        const char *in;
        struct capture out, errc;
        bool have_status, init_alive, killed, over;
        struct rusage ru;
        struct ctl_msg status_msg;
        struct jail_result *res;
        struct jail_error *err;
        struct pace pace;
};

/* Kill the whole execution (its init; the kernel takes the PID namespace). */
static void kill_execution(struct watch *w, const char *limit) {
        syscall(SYS_pidfd_send_signal, w->pidfd, SIGKILL, NULL, 0);
        if (w->killed)
                return;
        w->killed = true;
        w->res->limit_hit = limit;
}

static void feed_stdin(struct watch *w) {
        ssize_t n = w->in_left ? write(w->in_fd, w->in, w->in_left) : 0;
        if (n > 0)
                w->in += n, w->in_left -= (size_t)n;
        if (w->in_left == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                close(w->in_fd);
                w->in_fd = -1;
        }
}

static void read_output(struct watch *w, struct capture *c) {
        int cr = capture_read(c, w->out_limit);
        if (cr > 0)
                return;
        if (cr < 0 && !w->killed && w->init_alive)
                kill_execution(w, "OUTPUT");
        close(c->fd);
        c->fd = -1;
}

/* The init's messages: a set-up failure, the seccomp listener, the status. */
static void read_ctl(struct watch *w) {
        struct ctl_msg m;
        int pfd = -1;
        pid_t sender = -1;
        int cr = recv_ctl(w->ctl, &m, &pfd, &sender);
        if (cr == 0 || (cr < 0 && cr != -EAGAIN && cr != -EINTR)) {
                close(w->ctl);
                w->ctl = -1;
                return;
        }
        if (cr < 0)
                return;
        if (m.type == CTL_ERROR && w->r == 0) {
                m.step[sizeof m.step - 1] = '\0';
                w->r = -(m.error > 0 ? m.error : EIO);
                set_err(w->err, m.step, w->r);
                syscall(SYS_pidfd_send_signal, w->pidfd, SIGKILL, NULL, 0);
        } else if (m.type == CTL_NOTIFY_FD && pfd >= 0 && w->nfd < 0) {
                struct epoll_event ev = { .events = EPOLLIN | EPOLLET };
                w->nfd = TAKE_FD(pfd);
                w->child_pid = sender;
                if (epoll_ctl(w->efd, EPOLL_CTL_ADD, w->nfd, &ev) < 0 && w->r == 0) {
                        w->r = negative_errno();
                        set_err(w->err, "epoll-add", w->r);
                        syscall(SYS_pidfd_send_signal, w->pidfd, SIGKILL, NULL, 0);
                } else
                        answer_pending_execs(w->efd, w->nfd, w->child_pid, &w->execs);
        } else if (m.type == CTL_CPU_BOUND) {
                pace_cpu_bound(&w->pace);
        } else if (m.type == CTL_CPU_IDLE) {
                pace_cpu_idle(&w->pace);
        } else if (m.type == CTL_ESCAPED) {
                kill_execution(w, "PACING"); /* its init left: the namespace is going */
        } else if (m.type == CTL_STATUS) {
                w->wstatus = m.wstatus;
                w->have_status = true;
                w->status_msg = m;
        }
        if (pfd >= 0)
                close(pfd);
}

/* Pause or resume the execution: its init stops or continues the rest of
 * the namespace (init_wait()). */
static void pace_tell_init(struct watch *w, enum pace_action act) {
        if (act == PACE_NONE || w->ctl < 0)
                return;
        struct ctl_go m = { .type = act == PACE_PAUSE ? CTL_PAUSE : CTL_RESUME };
        (void)send(w->ctl, &m, sizeof m, MSG_NOSIGNAL);
}

/* While paused nothing of the program moves; only its client leaving or
 * its init's death need the supervisor (pace_wait_long()). */
static bool paused_give_up(void *userdata) {
        struct watch *w = userdata;
        struct pollfd p[2] = { { .fd = w->stop_fd, .events = POLLIN | POLLRDHUP }, { .fd = w->pidfd, .events = POLLIN } };
        return poll(p, 2, 0) > 0;
}

/* One round: wait for any of the execution's fds, the wall clock, or the
 * stop fd, and handle what is ready. 0 to go on, 1 to stop waiting. */
static int supervise_round(struct watch *w) {
        struct pollfd p[7];
        int n = 0, i_in = -1, i_out = -1, i_err = -1, i_ctl = -1, i_n = -1, i_pid = -1, i_stop = -1;
        if (w->in_fd >= 0 && w->init_alive)
                p[i_in = n++] = (struct pollfd){ .fd = w->in_fd, .events = POLLOUT };
        if (w->out.fd >= 0)
                p[i_out = n++] = (struct pollfd){ .fd = w->out.fd, .events = POLLIN };
        if (w->errc.fd >= 0)
                p[i_err = n++] = (struct pollfd){ .fd = w->errc.fd, .events = POLLIN };
        if (w->ctl >= 0)
                p[i_ctl = n++] = (struct pollfd){ .fd = w->ctl, .events = POLLIN };
        if (w->nfd >= 0 && w->init_alive)
                p[i_n = n++] = (struct pollfd){ .fd = w->efd, .events = POLLIN };
        if (w->init_alive)
                p[i_pid = n++] = (struct pollfd){ .fd = w->pidfd, .events = POLLIN };
        if (w->stop_fd >= 0 && w->init_alive && !w->killed)
                p[i_stop = n++] = (struct pollfd){ .fd = w->stop_fd, .events = POLLIN | POLLRDHUP };

        int timeout = 1000; /* draining: everything is dead, EOF is near */
        if (w->init_alive) {
                uint64_t t = now_ms(), next = UINT64_MAX;
                if (!w->have_status && !w->killed) {
                        enum pace_action act;
                        next = pace_step(&w->pace, t, &act);
                        pace_tell_init(w, act);
                        if (w->pace.paused) {
                                pace_tell_init(w, pace_wait_long(&w->pace, paused_give_up, w, &w->deadline, now_ms));
                                t = now_ms();
                                next = w->pace.paused ? t : UINT64_MAX;
                        }
                }
                /* A paused execution's wall clock does not run (pace.h). */
                uint64_t due = w->pace.paused ? next : (next < w->deadline ? next : w->deadline);
                timeout = due == UINT64_MAX ? -1 : t >= due ? 0 : (int)(due - t);
        }
        int k = poll(p, (nfds_t)n, timeout);
        if (k < 0 && errno != EINTR) {
                w->r = negative_errno();
                set_err(w->err, "poll", w->r);
                return 1;
        }
        if (w->init_alive && !w->pace.paused && now_ms() >= w->deadline && !w->killed)
                kill_execution(w, "REALTIME");
        if (k <= 0)
                return w->init_alive ? 0 : 1; /* not alive: a leaked writer, stop waiting */
        if (i_stop >= 0 && p[i_stop].revents) {
                kill_execution(w, NULL);
                w->res->stopped = true;
        }
        if (i_n >= 0 && (p[i_n].revents & POLLIN))
                answer_pending_execs(w->efd, w->nfd, w->child_pid, &w->execs);
        if (i_in >= 0 && p[i_in].revents)
                feed_stdin(w);
        if (i_out >= 0 && p[i_out].revents)
                read_output(w, &w->out);
        if (i_err >= 0 && p[i_err].revents)
                read_output(w, &w->errc);
        if (i_ctl >= 0 && p[i_ctl].revents)
                read_ctl(w);
        if (i_pid >= 0 && (p[i_pid].revents & POLLIN)) {
                int st;
                if (wait4(w->init, &st, 0, &w->ru) == w->init)
                        w->init_alive = false;
        }
        return 0;
}

/* Nothing of the execution is left open; an init not left on purpose
 * (an error) is killed and reaped. */
static void supervise_close(struct watch *w) {
        /* The program's CPU is spent: its FRESH and LONG bytes go now, its
         * slot with the teardown. */
        pace_end(&w->pace, now_ms());
        if (w->init_alive && !w->over) {
                syscall(SYS_pidfd_send_signal, w->pidfd, SIGKILL, NULL, 0);
                int st;
                while (wait4(w->init, &st, 0, &w->ru) < 0 && errno == EINTR)
                        ;
        }
        int *fds[] = { &w->in_fd, &w->out.fd, &w->errc.fd, &w->ctl, &w->nfd };
        for (size_t i = 0; i < ELEMENTSOF(fds); i++)
                if (*fds[i] >= 0)
                        close(*fds[i]), *fds[i] = -1;
}

/* The result from what was collected: output, usage, the status. */
static int supervise_result(struct watch *w) {
        struct jail_result *res = w->res;
        res->out = w->out.buf ? w->out.buf : strdup("");
        res->err = w->errc.buf ? w->errc.buf : strdup("");
        res->out_len = w->out.len;
        res->err_len = w->errc.len;
        if (res->out)
                res->out[res->out_len] = '\0';
        if (res->err)
                res->err[res->err_len] = '\0';
        /* The program's usage: from the init's report when the init was
         * left running, else from reaping the init. */
        res->cpu_ms = (w->over ? w->status_msg.cpu_us : rusage_cpu_us(&w->ru)) / 1000;
        res->maxrss_kb = w->over ? w->status_msg.maxrss_kb : (uint64_t)w->ru.ru_maxrss;
        w->status_msg.label[sizeof w->status_msg.label - 1] = '\0';
        snprintf(res->apparmor_label, sizeof res->apparmor_label, "%s", w->status_msg.label);
        if (w->r < 0)
                return w->r;
        if (!res->out || !res->err) {
                set_err(w->err, "capture", -ENOMEM);
                return -ENOMEM;
        }
        int ws = w->wstatus;
        if (w->killed)
                res->status = -SIGKILL;
        else if (!w->have_status) {
                set_err(w->err, "init", -ECHILD);
                return -ECHILD;
        } else if (WIFEXITED(ws))
                res->status = WEXITSTATUS(ws);
        else if (WIFSIGNALED(ws)) {
                res->status = -WTERMSIG(ws);
                if (WTERMSIG(ws) == SIGXCPU ||
                    (WTERMSIG(ws) == SIGKILL && w->j->req->limits.v[LIMIT_CPU] &&
                     res->cpu_ms >= (uint64_t)w->j->req->limits.v[LIMIT_CPU] * 1000))
                        res->limit_hit = "CPU";
        } else
                res->status = -SIGKILL;
        return 0;
}

/* The supervisor loop: feed stdin, capture output, answer execve
 * notifications, enforce the wall clock, stop the execution when stop_fd
 * says so (jail_prep_stop_on()), collect the status. */
static int supervise(struct jail_ctx *j, pid_t init, int pidfd, int stop_fd, int pace_fd, unsigned pace_slots,
                     uint64_t start, struct jail_result *res, struct jail_error *err, bool *init_left) {
        const struct limits *l = &j->req->limits;
        struct watch w = {
                .j = j, .init = init, .child_pid = -1, .pidfd = pidfd, .stop_fd = stop_fd,
                .in_fd = j->in[1], .ctl = j->ctl[0], .nfd = -1, .efd = epoll_create1(EPOLL_CLOEXEC),
                /* REALTIME 0: no wall clock of ours, as in codejail; the unit's
                 * RuntimeMaxSec= still ends the instance and the execution with it. */
                .deadline = l->v[LIMIT_REALTIME] ? start + (uint64_t)l->v[LIMIT_REALTIME] * 1000 : UINT64_MAX,
                .out_limit = (size_t)l->v[LIMIT_OUTPUT],
                .in = j->req->stdin_data, .in_left = j->req->stdin_len,
                .out = { .fd = j->out[0] }, .errc = { .fd = j->err[0] },
                .init_alive = true, .res = res, .err = err,
        };
        pace_begin(&w.pace, pace_fd, pace_slots, start);

        j->in[1] = j->out[0] = j->err[0] = j->ctl[0] = -1;
        if (w.efd < 0) {
                w.r = negative_errno();
                set_err(err, "epoll", w.r);
        } else {
                fcntl(w.in_fd, F_SETFL, O_NONBLOCK);
                fcntl(w.out.fd, F_SETFL, O_NONBLOCK);
                fcntl(w.errc.fd, F_SETFL, O_NONBLOCK);
        }
        while (w.r == 0 && (w.init_alive || w.out.fd >= 0 || w.errc.fd >= 0 || w.ctl >= 0)) {
                /* The program is reaped and its output complete: the answer
                 * is final. Its init (and with it the namespaces) is left
                 * for jail_result_done(), after the answer is out. */
                if (w.have_status && !w.killed && w.out.fd < 0 && w.errc.fd < 0 && w.init_alive) {
                        w.over = true;
                        break;
                }
                if (supervise_round(&w) > 0)
                        break;
        }
        *init_left = w.over;
        supervise_close(&w);
        res->paused_ms = w.pace.paused_ms;
        if (w.efd >= 0)
                close(w.efd);
        return supervise_result(&w);
}

/* What jail_prepare() made, for jail_run_prepared() or jail_prep_free(). */
struct jail_prep {
        struct jail_ctx j;
        int lock_fd, dfd, pidfd;
        int stop_fd; /* jail_prep_stop_on()'s, the caller's; -1: none */
        int pace_fd;          /* jail_prep_pace_on()'s: the admission lock, -1: not paced */
        unsigned pace_slots;  /* its CPU-bound places (0: no bound) */
        pid_t init;
        int r;                  /* a failure of the preparation, reported by the run */
        struct jail_error err;
};

/* Undo what is left of a preparation (nothing ran in it). */
static void prep_release(struct jail_prep *p) {
        struct jail_ctx *j = &p->j;
        close_pair(j->in);
        close_pair(j->out);
        close_pair(j->err);
        close_pair(j->ctl); /* the init sees EOF and leaves */
        if (j->ruleset >= 0)
                close(j->ruleset), j->ruleset = -1;
        if (p->init > 0) {
                if (p->pidfd >= 0)
                        (void)syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0);
                while (waitpid(p->init, NULL, __WALL) < 0 && errno == EINTR)
                        ;
                p->init = 0;
        }
        if (p->pidfd >= 0)
                close(p->pidfd), p->pidfd = -1;
        if (p->dfd >= 0) {
                if (j->req)
                        jail_dir_remove_files(j, p->dfd);
                jail_dir_remove(j->jail_dir, p->dfd);
                close(p->dfd), p->dfd = -1;
        }
        if (p->lock_fd >= 0)
                close(p->lock_fd), p->lock_fd = -1;
}

void jail_prep_free(struct jail_prep *p) {
        if (!p)
                return;
        prep_release(p);
        free(p);
}

/* Steps 1-4 and, in the init, 5-6: everything that does not depend on the
 * request. */
static int prepare(struct jail_prep *p) {
        struct jail_ctx *j = &p->j;
        const struct config *cfg = j->cfg;
        struct jail_error *err = &p->err;
        int r;

        /* 1. (Landlock below, with the jail dir) */
        j->use_apparmor = cfg->apparmor != APPARMOR_OFF && !SABOTAGED(LAYER_APPARMOR) && apparmor_present();
        j->aa_stack = j->use_apparmor && apparmor_self_confined();
        if (cfg->apparmor == APPARMOR_REQUIRE && !j->use_apparmor) {
                set_err(err, "apparmor-required", -EOPNOTSUPP);
                return -EOPNOTSUPP;
        }

        /* 2. */
        char lock_path[PATH_MAX];
        if (mkdir(cfg->state_dir, 0755) < 0 && errno != EEXIST) {
                r = negative_errno();
                set_err(err, "state-dir", r);
                return r;
        }
        snprintf(lock_path, sizeof lock_path, "%s/sandbox-uids.lock", cfg->state_dir);
        if ((r = uidpick_acquire(lock_path, cfg->uid_min, cfg->uid_max, &j->uid, &p->lock_fd)) < 0) {
                set_err(err, "uid-pick", r);
                return r;
        }

        /* 3. (its files once the request is known: jail_run_prepared()) */
        if ((r = jail_dir_create(j, &p->dfd)) < 0) {
                set_err(err, "jail-dir", r);
                return r;
        }
        root_python_trees(cfg->python_bin, j->tree_buf, j->trees);
        if (!SABOTAGED(LAYER_LANDLOCK)) {
                const char *files[] = { "/etc/matplotlibrc", NULL };
                r = landlock_ruleset_new(j->trees, j->jail_dir, files, root_devices, &j->abi);
                if (r < 0) {
                        set_err(err, "landlock-build", r);
                        return r;
                }
                j->ruleset = r;
        }

        if (pipe2(j->in, O_CLOEXEC) < 0 || pipe2(j->out, O_CLOEXEC) < 0 || pipe2(j->err, O_CLOEXEC) < 0 ||
            socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, j->ctl) < 0) {
                r = negative_errno();
                set_err(err, "pipes", r);
                return r;
        }
        int one = 1;
        if (setsockopt(j->ctl[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0) {
                r = negative_errno();
                set_err(err, "passcred", r);
                return r;
        }

        /* 4. */
        unsigned flags = SABOTAGED(LAYER_NAMESPACES) ? 0 : NS_JAIL_FLAGS;
        if (self_netns_private)
                flags &= ~(unsigned)CLONE_NEWNET;
        if (self_uts_ipc_private)
                flags &= ~(unsigned)(CLONE_NEWUTS | CLONE_NEWIPC);
        j->own_uts = flags & CLONE_NEWUTS;
        pid_t init = clone_init(flags, &p->pidfd);
        if (init < 0) {
                r = negative_errno();
                set_err(err, "clone", r);
                return r;
        }
        if (init == 0)
                run_init(j);
        p->init = init;
        close(j->in[0]), j->in[0] = -1;
        close(j->out[1]), j->out[1] = -1;
        close(j->err[1]), j->err[1] = -1;
        close(j->ctl[1]), j->ctl[1] = -1;
        return 0;
}

struct jail_prep *jail_prepare(const struct config *cfg) {
        struct jail_prep *p = calloc(1, sizeof *p);
        if (!p)
                return NULL;
        p->j = (struct jail_ctx){
                .cfg = cfg, .ruleset = -1,
                .in = { -1, -1 }, .out = { -1, -1 }, .err = { -1, -1 }, .ctl = { -1, -1 },
        };
        p->lock_fd = p->dfd = p->pidfd = p->stop_fd = p->pace_fd = -1;
        p->r = prepare(p);
        if (p->r < 0)
                prep_release(p); /* the run reports p->err */
        return p;
}

void jail_prep_stop_on(struct jail_prep *p, int fd) {
        p->stop_fd = fd;
}

void jail_prep_pace_on(struct jail_prep *p, int lock_fd, unsigned cpu_bound_slots) {
        p->pace_fd = lock_fd;
        p->pace_slots = cpu_bound_slots;
}

int jail_run_prepared(struct jail_prep *p, const struct jail_request *req, struct jail_result *res,
                      struct jail_error *err) {
        struct jail_ctx *j = &p->j;
        int r = p->r;

        memset(res, 0, sizeof *res);
        memset(err, 0, sizeof *err);
        if (r < 0) {
                *err = p->err;
                goto out;
        }
        j->req = req;
        res->uid = SABOTAGED(LAYER_UID) ? getuid() : j->uid;
        /* 3, the request's part: the files before the init may start the
         * program (the jail dir is bound into its root: it sees them). */
        if ((r = jail_dir_populate(j, p->dfd)) < 0) {
                set_err(err, "jail-files", r);
                goto out;
        }
        /* The limits, to the init, which builds tmp/ and goes on with 7. The
         * wall clock starts here. */
        uint64_t start = now_ms();
        struct ctl_go go = { .type = CTL_GO, .limits = req->limits,
                             .pace = p->pace_fd >= 0 && p->pace_slots > 0 };
        if (send(j->ctl[0], &go, sizeof go, MSG_NOSIGNAL) != (ssize_t)sizeof go) {
                /* An init that failed its set-up has said why and left: the
                 * supervisor reads it below. */
                if (errno != EPIPE && errno != ECONNRESET) {
                        r = negative_errno();
                        set_err(err, "go", r);
                        goto out;
                }
        }
        bool init_left = false;
        r = supervise(j, p->init, p->pidfd, p->stop_fd, p->pace_fd, p->pace_slots, start, res, err, &init_left);
        res->duration_ms = now_ms() - start;
        if (!init_left)
                p->init = 0; /* supervise() reaped it */
        if (r == 0 && init_left) {
                /* Answer first; jail_result_done() reaps the init, removes
                 * the dir and releases the UID (in that order). */
                jail_dir_remove_files(j, p->dfd);
                res->teardown = (struct jail_teardown) {
                        .pending = true, .init = p->init, .pidfd = TAKE_FD(p->pidfd),
                        .dfd = TAKE_FD(p->dfd), .lock_fd = TAKE_FD(p->lock_fd),
                };
                snprintf(res->teardown.dir, sizeof res->teardown.dir, "%s", j->jail_dir);
                p->init = 0;
        }
out:
        jail_prep_free(p);
        if (r < 0) {
                jail_result_done(res);
                return r;
        }
        return 0;
}

int jail_run(const struct config *cfg, const struct jail_request *req, struct jail_result *res,
             struct jail_error *err) {
        struct jail_prep *p = jail_prepare(cfg);
        if (!p) {
                memset(res, 0, sizeof *res);
                set_err(err, "prepare", -ENOMEM);
                return -ENOMEM;
        }
        return jail_run_prepared(p, req, res, err);
}

static void jail_teardown_finish(struct jail_teardown *t) {
        if (!t->pending)
                return;
        t->pending = false;
        /* The init is on its way out already; the kill only makes sure
         * whatever the code left behind goes with it (the PID namespace).
         * Without one (sabotage build) the init reaps its orphans itself. */
        if (!SABOTAGED(LAYER_NAMESPACES))
                syscall(SYS_pidfd_send_signal, t->pidfd, SIGKILL, NULL, 0);
        int st;
        while (waitpid(t->init, &st, 0) < 0 && errno == EINTR)
                ;
        close(t->pidfd);
        jail_dir_remove(t->dir, t->dfd);
        close(t->dfd);
        close(t->lock_fd); /* the UID is free again only now */
}

void jail_result_release(struct jail_result *res) {
        jail_teardown_finish(&res->teardown);
}

void jail_result_done(struct jail_result *res) {
        jail_teardown_finish(&res->teardown);
        free(res->out);
        free(res->err);
        res->out = res->err = NULL;
        res->out_len = res->err_len = 0;
}


int jail_isolate_self_uts_ipc(void) {
        if (SABOTAGED(LAYER_SELF_NS))
                return 0;
        if (unshare(CLONE_NEWUTS | CLONE_NEWIPC) < 0)
                return negative_errno();
        /* Before the service's filter refuses sethostname: the execution
         * shares this namespace, and sees this identity. */
        int r = ns_set_identity();
        if (r < 0)
                return r;
        self_uts_ipc_private = true;
        return 0;
}

int jail_isolate_self_network(const struct config *cfg) {
        char detail[128];
        if (SABOTAGED(LAYER_NETNS_SELF))
                return 0;
        /* Already private (systemd's PrivateNetwork=): nothing to do. */
        if (ns_network_is_private(detail, sizeof detail))
                return 0;
        int r = ns_isolate_network();
        if (r >= 0)
                self_netns_private = true;
        if (r < 0 && !cfg->require_private_network)
                return 0;
        return r;
}
