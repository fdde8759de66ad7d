/* SPDX-License-Identifier: Apache-2.0 */
/* Selfcheck (codejail-service(7) "Health and the enable switch"): real probes through
 * the real jail, the state file <state_dir>/health.json (written
 * atomically) and sd_notify. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <limits.h>

#include "apparmor.h"
#include "creds.h"
#include "harden.h"
#include "health.h"
#include "jail.h"
#include "landlock.h"
#include "log.h"
#include "macro.h"
#include "ns.h"
#include "fdio.h"
#include "payload.h"
#include "root.h"
#include "safeexec.h"
#include "sdproto.h"
#include "unpriv.h"

/* Each probe prints r: 'denied' when the layer held. */
#define PROBE(body)                                                   \
        "try:\n" body "\n    r = 'allowed'\n"                         \
        "except (PermissionError, BlockingIOError) as e:\n"           \
        "    r = 'denied'\n"                                          \
        "except Exception as e:\n"                                    \
        "    r = 'unexpected: ' + repr(e)\n"

static const struct probe {
        const char *name, *code, *expect;
} probes[] = {
        { "exec_x_plus_1", "x = x + 1", NULL },
        { "deny_listdir_root", PROBE("    import os; os.listdir('/')"), "denied" },
        { "deny_exec_date", PROBE("    import subprocess; subprocess.run(['date'])"), "denied" },
        { "deny_af_inet_socket", PROBE("    import socket; socket.socket(socket.AF_INET, socket.SOCK_STREAM)"), "denied" },
        { "deny_setuid_0", PROBE("    import os; os.setuid(0)"), "denied" },
        /* The environment jail.c sets arrives whole: an exec that scrubs it
         * (AppArmor's default "safe" stacking drops TMPDIR) breaks tempfile
         * and matplotlib in every course. */
        { "sandbox_environment_exact",
          "import os\n"
          "e = dict(os.environ)\n"
          "r = 'exact' if e == {'PATH': '/usr/bin:/bin', 'TMPDIR': 'tmp', 'HOME': 'tmp', 'LANG': 'C.UTF-8'} "
          "else 'changed: ' + ' '.join(sorted(e))\n"
          "del os, e",
          "exact" },
};

/* The service's own /proc hides what it cannot ptrace; the survivor check
 * looks through a procfs of its own (below) that shows everything. */
static const char *probe_proc = "/proc";

static bool uid_has_processes(uid_t uid) {
        DIR *d = opendir(probe_proc);
        struct dirent *e;
        bool found = false;
        if (!d)
                return true; /* cannot prove absence */
        while (!found && (e = readdir(d))) {
                char path[300];
                struct stat st;
                if (e->d_name[0] < '0' || e->d_name[0] > '9')
                        continue;
                snprintf(path, sizeof path, "%s/%s", probe_proc, e->d_name);
                if (stat(path, &st) == 0 && st.st_uid == uid)
                        found = true;
        }
        closedir(d);
        return found;
}

static void add_check(json_t *checks, const char *name, bool pass, const char *detail, bool *all) {
        json_array_append_new(checks, json_pack("{s:s, s:b, s:s}", "name", name, "pass", pass, "detail", detail));
        if (!pass)
                *all = false;
}

/* A probe that attempted something: e is its errno (0: it worked, and
 * `success` says what happened); it passes when the answer was `want`. */
static void add_errno_check(json_t *checks, bool *all, const char *name, const char *what, int e, int want,
                            const char *success) {
        char detail[256];
        snprintf(detail, sizeof detail, "%.120s: %s", what, e ? strerror(e) : success);
        add_check(checks, name, e == want, detail, all);
}

/* The UTS and IPC namespaces this process was in before harden_self(). */
static const char *const own_ns[][2] = { { "uts", "service_uts_private" }, { "ipc", "service_ipc_private" } };
static unsigned long long ns_before[ELEMENTSOF(own_ns)];

/* The service filter's argument checks and allow-list, each attempted. */
static void probe_service_syscalls(json_t *checks, bool *all) {
        char detail[256];
        int e;

        /* The argument filters (systemd's MemoryDenyWriteExecute=,
         * RestrictSUIDSGID=, RestrictNamespaces=, ProtectHostname=), each
         * attempted: every one of these succeeds without the filter. */
        void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        e = m == MAP_FAILED ? errno : 0;
        if (m != MAP_FAILED)
                munmap(m, 4096);
        add_errno_check(checks, all, "service_seccomp_wx_memory", "mmap(PROT_WRITE|PROT_EXEC)", e, EPERM, "mapped");

        char suid[] = "/tmp/codejail-suid-probe-XXXXXX";
        int sfd = mkstemp(suid);
        e = sfd < 0 ? errno : (fchmod(sfd, 04755) < 0 ? errno : 0);
        if (sfd >= 0) {
                close(sfd);
                unlink(suid);
        }
        snprintf(detail, sizeof detail, "fchmod(04755): %s", e ? strerror(e) : "set-user-ID bit set");
        add_check(checks, "service_seccomp_suid", sfd >= 0 && e == EPERM, detail, all);

        /* The allow-list (SystemCallFilter=@system-service...): mincore()
         * is harmless, unprivileged and in no deny list, only outside it. */
        unsigned char vec[1];
        void *pg = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        e = pg == MAP_FAILED ? errno : mincore(pg, 4096, vec) < 0 ? errno : 0;
        if (pg != MAP_FAILED)
                munmap(pg, 4096);
        add_errno_check(checks, all, "service_seccomp_allowlist", "mincore", e, EPERM, "allowed");

        /* RestrictNamespaces=: no cgroup namespace, and no user namespace,
         * tried in a child (one that worked would cost this process its
         * capabilities); the child's exit status is the errno. */
        e = unshare(CLONE_NEWCGROUP) < 0 ? errno : 0;
        const char *ns_what = "unshare(CLONE_NEWCGROUP)";
        if (e == EPERM) {
                ns_what = "unshare(CLONE_NEWUSER)";
                pid_t child = fork();
                if (child == 0)
                        _exit(unshare(CLONE_NEWUSER) < 0 ? errno & 0xff : 0);
                int cs = 0;
                if (child > 0)
                        while (waitpid(child, &cs, 0) < 0 && errno == EINTR)
                                ;
                e = child < 0 ? errno : WIFEXITED(cs) ? WEXITSTATUS(cs) : EINTR;
        }
        add_errno_check(checks, all, "service_seccomp_namespaces", ns_what, e, EPERM, "created");

        /* Its current name, so even a success changes nothing. */
        char host[256] = "";
        gethostname(host, sizeof host - 1);
        e = sethostname(host, strlen(host)) < 0 ? errno : 0;
        add_errno_check(checks, all, "service_seccomp_hostname", "sethostname", e, EPERM, "allowed");

        /* LockPersonality=: no other execution domain (PER_LINUX32 shrinks
         * the address space; READ_IMPLIES_EXEC would undo W^X). Put back
         * at once if it ever worked. */
        int persona = personality(0xffffffff);
        e = personality(PER_LINUX32) == -1 ? errno : 0;
        if (!e)
                personality(persona >= 0 ? (unsigned long)persona : PER_LINUX);
        add_errno_check(checks, all, "service_seccomp_personality", "personality(PER_LINUX32)", e, EPERM, "changed");
}

static void probe_service_foreign_arch(json_t *checks, bool *all) {
        char detail[256];

        /* SystemCallArchitectures=native: a 32-bit syscall kills the caller. */
        pid_t pid = fork();
        if (pid == 0) {
#ifdef __x86_64__
                long ret;
                __asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L /* i386 getpid */) : "memory");
#endif
                _exit(0);
        }
        int ws = 0;
        if (pid > 0)
                while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
                        ;
        bool killed = pid > 0 && WIFSIGNALED(ws) && WTERMSIG(ws) == SIGSYS;
        snprintf(detail, sizeof detail, "i386 getpid via int 0x80: %s",
                 killed ? "killed by SIGSYS" : pid < 0 ? strerror(errno) : "returned");
        add_check(checks, "service_seccomp_foreign_arch", killed, detail, all);
}

static void probe_service_no_realtime(json_t *checks, bool *all) {
        char detail[256];

        /* No realtime scheduling (no CAP_SYS_NICE, RLIMIT_RTPRIO, and the
         * filter): reset at once if it ever worked. */
        struct sched_param sp = { .sched_priority = 1 };
        int e = sched_setscheduler(0, SCHED_FIFO, &sp) < 0 ? errno : 0;
        if (!e) {
                sp.sched_priority = 0;
                sched_setscheduler(0, SCHED_OTHER, &sp);
        }
        snprintf(detail, sizeof detail, "sched_setscheduler(SCHED_FIFO): %s", e ? strerror(e) : "allowed");
        add_check(checks, "service_no_realtime", e != 0, detail, all);
}

/* The serving process's own hardening, each measure attempted for real
 * from inside this (hardened) process. outsider: a process started before
 * the hardening (standing in for another instance), or -1. */
static void probe_service(json_t *checks, bool *all, pid_t outsider) {
        char detail[256];

        /* The Landlock signal scope: no signal, not even 0, to a process
         * of the same user started outside this domain. */
        int abi = landlock_abi();
        int ke = outsider > 0 && kill(outsider, 0) < 0 ? errno : 0;
        if (abi >= 6)
                snprintf(detail, sizeof detail, "kill(another process of this user, 0): %s",
                         outsider <= 0 ? "no such process to try" : ke ? strerror(ke) : "allowed");
        else
                snprintf(detail, sizeof detail, "Landlock ABI %d: no signal scoping on this kernel", abi);
        add_check(checks, "service_signal_scope", abi < 6 || (outsider > 0 && ke == EPERM), detail, all);

        bool priv = ns_network_is_private(detail, sizeof detail);
        add_check(checks, "service_no_egress", priv, detail, all);

        /* RestrictAddressFamilies=AF_UNIX: every other family systemd's
         * exposure report names, each refused by the filter itself
         * (EACCES; the kernel's own refusals differ). */
        static const struct {
                int family, type;
                const char *name;
        } families[] = { { AF_INET, SOCK_STREAM, "AF_INET" },
                         { AF_INET6, SOCK_DGRAM, "AF_INET6" },
                         { AF_NETLINK, SOCK_RAW, "AF_NETLINK" },
                         { AF_PACKET, SOCK_RAW, "AF_PACKET" } };
        int e = EACCES;
        const char *family = families[0].name;
        for (size_t i = 0; i < ELEMENTSOF(families) && e == EACCES; i++) {
                int fd = socket(families[i].family, families[i].type | SOCK_CLOEXEC, 0);
                e = fd < 0 ? errno : 0;
                family = families[i].name;
                if (fd >= 0)
                        close(fd);
        }
        snprintf(detail, sizeof detail, "socket(%s)", e == EACCES ? "AF_INET, AF_INET6, AF_NETLINK, AF_PACKET" : family);
        add_errno_check(checks, all, "service_seccomp_no_inet_socket", detail, e, EACCES, "created");

        /* The mounts' own read-only flag (statvfs): access(W_OK) would say
         * EACCES before EROFS for a non-root service. Nothing is written. */
        struct statvfs ve, vu;
        bool ro_etc = statvfs("/etc", &ve) == 0 && (ve.f_flag & ST_RDONLY);
        bool ro_usr = statvfs("/usr", &vu) == 0 && (vu.f_flag & ST_RDONLY);
        snprintf(detail, sizeof detail, "/etc %s, /usr %s", ro_etc ? "read-only" : "WRITABLE",
                 ro_usr ? "read-only" : "WRITABLE");
        add_check(checks, "service_filesystem_readonly", ro_etc && ro_usr, detail, all);

        int nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
        snprintf(detail, sizeof detail, "no_new_privs=%d", nnp);
        add_check(checks, "service_no_new_privs", nnp == 1, detail, all);

        int dump = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
        snprintf(detail, sizeof detail, "dumpable=%d", dump);
        add_check(checks, "service_not_dumpable", dump == 0, detail, all);

        /* No capability outside the kept set, in any set but the bounding
         * one (which only CAP_SETPCAP can shrink: reported, and checked
         * when we had it). */
        struct cap_sets c = { 0 };
        (void)creds_read_caps(&c);
        unsigned long long keep = harden_kept_caps(), eff = c.effective, prm = c.permitted, inh = c.inheritable,
                           bnd = c.bounding;
        bool caps_ok = !(eff & ~keep) && !(prm & ~keep) && !inh && (!(prm & (1ULL << CAP_SETPCAP)) || !(bnd & ~keep));
        snprintf(detail, sizeof detail, "effective %#llx permitted %#llx inheritable %#llx bounding %#llx (kept %#llx)",
                 eff, prm, inh, bnd, keep);
        add_check(checks, "service_capabilities", caps_ok, detail, all);

        /* Namespaces of its own: not the ones it started in. */
        for (size_t i = 0; i < ELEMENTSOF(own_ns); i++) {
                unsigned long long now = ns_inode(own_ns[i][0]), then = ns_before[i];
                snprintf(detail, sizeof detail, "%s namespace %llu, started in %llu", own_ns[i][0], now, then);
                add_check(checks, own_ns[i][1], now && then && now != then, detail, all);
        }

        /* Its procfs: no /proc/sys (subset=pid) and no process it cannot
         * ptrace, such as PID 1 (hidepid=invisible). */
        struct stat st;
        bool no_sys = stat("/proc/sys/kernel", &st) < 0 && errno == ENOENT;
        bool no_init = getpid() == 1 || (stat("/proc/1", &st) < 0 && errno == ENOENT);
        snprintf(detail, sizeof detail, "/proc/sys %s, /proc/1 %s", no_sys ? "absent" : "VISIBLE",
                 no_init ? "absent" : "VISIBLE");
        add_check(checks, "service_proc_restricted", no_sys && no_init, detail, all);

        probe_service_syscalls(checks, all);
        probe_service_foreign_arch(checks, all);
        probe_service_no_realtime(checks, all);
}

/* ---- the unprivileged side of an instance (privsep.c) ----
 * Probed from inside it: a child forked and dropped exactly as a serving
 * instance's is, trying each thing it must not be able to do. It reports
 * one line per probe, "name\tpass\tdetail\n", on its socket. Ordered so a
 * probe that succeeds (the sabotage build) cannot spoil the next: ptrace
 * (by the same uid) and setuid last. */
static const char *const privsep_probe_names[] = {
        "privsep_drop", "privsep_capabilities", "privsep_no_new_privs", "privsep_not_dumpable",
        "privsep_deny_open", "privsep_deny_socket", "privsep_deny_mount", "privsep_deny_unshare",
        "privsep_deny_execve", "privsep_deny_fork", "privsep_deny_ptrace", "privsep_deny_setuid",
};

_printf_(4, 5) static void report(int fd, const char *name, bool pass, const char *fmt, ...) {
        char line[400], detail[300];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(detail, sizeof detail, fmt, ap);
        va_end(ap);
        int n = snprintf(line, sizeof line, "%s\t%d\t%s\n", name, pass, detail);
        (void)fd_write_all(fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* errno of a refused call, 0 when it was allowed. */
#define TRY(call) ((call) < 0 ? errno : 0)
static bool refused(int e) {
        return e == EPERM || e == EACCES;
}

static void probe_privsep_caps(int fd) {
        struct cap_sets c = { .effective = ~0ULL, .permitted = ~0ULL, .inheritable = ~0ULL };
        (void)creds_read_caps(&c);
        unsigned long long eff = c.effective, prm = c.permitted, inh = c.inheritable, bnd = c.bounding,
                           amb = c.ambient;
        int sec = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
        report(fd, "privsep_capabilities", !eff && !prm && !inh && !bnd && !amb,
               "effective %#llx permitted %#llx inheritable %#llx bounding %#llx ambient %#llx securebits %#x", eff,
               prm, inh, bnd, amb, sec);
        int nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), dump = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
        report(fd, "privsep_no_new_privs", nnp == 1, "no_new_privs=%d", nnp);
        report(fd, "privsep_not_dumpable", dump == 0, "dumpable=%d", dump);
}

/* Each attempt harmless if it works: the probe process is thrown away. */
static void probe_privsep_denials(int fd) {
        int e, e2, k;
        e = TRY(k = open("/etc/passwd", O_RDONLY | O_CLOEXEC));
        if (k >= 0)
                close(k);
        report(fd, "privsep_deny_open", refused(e), "open(/etc/passwd): %s", e ? strerror(e) : "opened");
        e = TRY(k = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        if (k >= 0)
                close(k);
        e2 = TRY(k = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (k >= 0)
                close(k);
        report(fd, "privsep_deny_socket", refused(e) && refused(e2), "socket(AF_UNIX): %s, socket(AF_INET): %s",
               e ? strerror(e) : "created", e2 ? strerror(e2) : "created");
        /* Everything is private already (harden.c): a success changes nothing. */
        e = TRY(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
        report(fd, "privsep_deny_mount", refused(e), "mount(MS_PRIVATE): %s", e ? strerror(e) : "allowed");
        e = TRY(unshare(CLONE_NEWUTS));
        report(fd, "privsep_deny_unshare", refused(e), "unshare(CLONE_NEWUTS): %s", e ? strerror(e) : "allowed");
        /* A bad environment pointer: allowed, it fails with EFAULT after the
         * file was opened for execution, before anything is replaced. */
        char *argv[] = { (char *)"true", NULL };
        e = TRY(syscall(SYS_execve, "/bin/true", argv, (char **)1));
        report(fd, "privsep_deny_execve", refused(e), "execve(/bin/true): %s", strerror(e));
        pid_t pid = fork();
        if (pid == 0)
                _exit(0);
        e = pid < 0 ? errno : 0;
        if (pid > 0)
                while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                        ;
        report(fd, "privsep_deny_fork", refused(e), "fork: %s", e ? strerror(e) : "a process started");
        /* Seized, not stopped: if it works, this process's exit detaches. */
        e = TRY(ptrace(PTRACE_SEIZE, getppid(), NULL, NULL));
        report(fd, "privsep_deny_ptrace", refused(e), "ptrace(PTRACE_SEIZE, the privileged side): %s",
               e ? strerror(e) : "attached");
        e = TRY(setresuid(65534, 65534, 65534));
        report(fd, "privsep_deny_setuid", refused(e), "setresuid(65534): %s", e ? strerror(e) : "became 65534");
}

_noreturn_ static void probe_privsep_child(int fd) {
        const char *step = "?";
        int r = unpriv_drop(getppid(), &step);
        report(fd, "privsep_drop", r >= 0, r < 0 ? "failed at %s: %s" : "%s%s", r < 0 ? step : "dropped",
               r < 0 ? strerror(-r) : "");
        probe_privsep_caps(fd);
        probe_privsep_denials(fd);
        _exit(0);
}

/* Parse the child's lines into checks; each expected probe must be there. */
static void privsep_checks(char *buf, json_t *checks, bool *all) {
        bool seen[ELEMENTSOF(privsep_probe_names)] = { false };
        for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
                if (!t2)
                        continue;
                *t1 = *t2 = '\0';
                for (size_t i = 0; i < ELEMENTSOF(privsep_probe_names); i++)
                        if (!seen[i] && streq_safe(line, privsep_probe_names[i])) {
                                seen[i] = true;
                                add_check(checks, line, streq_safe(t1 + 1, "1"), t2 + 1, all);
                        }
        }
        for (size_t i = 0; i < ELEMENTSOF(privsep_probe_names); i++)
                if (!seen[i])
                        add_check(checks, privsep_probe_names[i], false, "not reported: the probe process died", all);
}

static void probe_privsep(json_t *checks, bool *all) {
        char buf[8192];
        size_t n = 0;
        int fd;
        pid_t pid = unpriv_fork(&fd, NULL);
        if (pid == 0)
                probe_privsep_child(fd);
        if (pid < 0) {
                add_check(checks, "privsep_drop", false, strerror(-pid), all);
                return;
        }
        for (ssize_t k; n < sizeof buf - 1; n += (size_t)k)
                if ((k = read(fd, buf + n, sizeof buf - 1 - n)) <= 0 && !(k < 0 && errno == EINTR))
                        break;
                else if (k < 0)
                        k = 0;
        buf[n] = '\0';
        close(fd);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
        privsep_checks(buf, checks, all);
}

/* The AppArmor label the first probe execution ran under (its init read
 * it from the kernel), "" when none was reported. */
static char probe_label[sizeof ((struct jail_result *)0)->apparmor_label];

/* Run one probe through the real jail and add its check: pass when the
 * code's r is expect (a trailing '*' matches a prefix), or, without
 * expect, when x = 16 became 17; then check no process of its UID
 * survived. got (if not NULL) receives r. */
static void run_probe_r(const struct config *cfg, const struct probe *pr, json_t *checks, bool *all, char *got_out,
                        size_t got_size) {
        char detail[512];
        struct payload p;
        struct payload_error perr;
        struct safeexec_outcome o;
        struct jail_error jerr;
        bool pass = false;

        /* The request as the LMS would send it, through the same checks. */
        json_auto_t *req = json_pack("{s:s, s:{s:i}}", "code", pr->code, "globals_dict", "x", 16);
        _cleanup_free_ char *text = req ? pyjson_dumps(req, NULL) : NULL;
        int r = text ? payload_parse(text, strlen(text), NULL, 0, &p, &perr) : -ENOMEM;
        if (r < 0) {
                snprintf(detail, sizeof detail, "probe payload: %.400s", r == -EINVAL ? perr.message : strerror(-r));
                add_check(checks, pr->name, false, detail, all);
                return;
        }
        r = safeexec_run(cfg, &p, NULL, 0, &o, &jerr);
        if (r < 0) {
                snprintf(detail, sizeof detail, "jail set-up failed at %s: %s", jerr.step, strerror(jerr.error));
                add_check(checks, pr->name, false, detail, all);
                payload_done(&p);
                return;
        }
        _cleanup_free_ char *answer = safeexec_render(&o, NULL);
        struct pyjson_error jsonerr;
        json_auto_t *resp = answer ? pyjson_loads(answer, strlen(answer), 1000, &jsonerr) : NULL;
        json_t *g = json_object_get(resp, "globals_dict");
        json_t *emsg = json_object_get(resp, "emsg");
        if (emsg)
                snprintf(detail, sizeof detail, "%.500s", json_string_value(emsg));
        else if (!resp)
                snprintf(detail, sizeof detail, "the answer could not be built or read back");
        else if (!pr->expect) {
                json_int_t x = json_integer_value(json_object_get(g, "x"));
                pass = x == 17;
                snprintf(detail, sizeof detail, "x = %lld", (long long)x);
        } else {
                const char *got = json_string_value(json_object_get(g, "r"));
                size_t n = strlen(pr->expect);
                pass = n && pr->expect[n - 1] == '*' ? got && strncmp(got, pr->expect, n - 1) == 0
                                                      : streq_safe(got, pr->expect);
                snprintf(detail, sizeof detail, "%s", got ? got : "no result");
                if (got_out && got)
                        snprintf(got_out, got_size, "%s", got);
        }
        add_check(checks, pr->name, pass, detail, all);

        if (!probe_label[0])
                snprintf(probe_label, sizeof probe_label, "%s", o.jail.apparmor_label);
        /* Only once the execution is torn down (safeexec_done). */
        uid_t uid = o.jail.uid;
        safeexec_done(&o);
        char name[96];
        snprintf(name, sizeof name, "no_survivors_%s", pr->name);
        bool left = uid_has_processes(uid);
        snprintf(detail, sizeof detail, "uid %u: %s", (unsigned)uid, left ? "processes remain" : "none left");
        add_check(checks, name, !left, detail, all);
        payload_done(&p);
}

static void run_probe(const struct config *cfg, const struct probe *pr, json_t *checks, bool *all) {
        run_probe_r(cfg, pr, checks, all, NULL, 0);
}

/* sandbox_required_modules: each imported through the real jail with the
 * default limits, as a course problem would; health.json lists each
 * one's version, or null when it is missing (the check says why). */
#define MODULE_PROBE                                                                 \
        "import importlib\n"                                                         \
        "try:\n"                                                                     \
        "    m = importlib.import_module(NAME)\n"                                    \
        "    v = getattr(m, '__version__', None)\n"                                  \
        "    if not isinstance(v, str):\n"                                           \
        "        try:\n"                                                             \
        "            import importlib.metadata\n"                                    \
        "            v = importlib.metadata.version(NAME.split('.')[0])\n"           \
        "        except Exception:\n"                                                \
        "            v = 'unknown'\n"                                                \
        "    r = 'version ' + v\n"                                                   \
        "except BaseException as e:\n"                                               \
        "    r = 'missing: %%s: %%s' %% (type(e).__name__, e)\n"                     \
        "m = None\n"

static json_t *run_module_probes(const struct config *cfg, json_t *checks, bool *all) {
        json_t *mods = json_object();
        for (size_t i = 0; mods && i < cfg->n_required_modules; i++) {
                const char *m = cfg->required_modules[i]; /* a dotted identifier (conf.c) */
                char code[1024], name[160], got[256] = "";
                snprintf(code, sizeof code, "NAME = '%s'\n" MODULE_PROBE, m);
                snprintf(name, sizeof name, "sandbox_module_%s", m);
                const struct probe pr = { name, code, "version *" };
                run_probe_r(cfg, &pr, checks, all, got, sizeof got);
                json_object_set_new(mods, m, strncmp(got, "version ", 8) == 0 ? json_string(got + 8) : json_null());
        }
        return mods;
}

/* The allow-list root (root.c): nothing of the host's tree but what the
 * interpreter needs is even there. A socket planted in the state dir
 * (writable by this service, world-connectable) must be neither visible
 * nor reachable, nor may the usual host directories exist; without the new
 * root all of these are in view (Landlock does not mediate stat() or
 * connect() on a path socket). */
#define ROOT_PROBE                                                                              \
        "import os, socket\n"                                                                  \
        "seen = [p for p in [PLANT] + HOST if os.path.lexists(p)]\n"                            \
        "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"                              \
        "try:\n"                                                                               \
        "    s.connect(PLANT)\n"                                                               \
        "    c = 'connected'\n"                                                                \
        "except FileNotFoundError:\n"                                                          \
        "    c = 'absent'\n"                                                                   \
        "except Exception as e:\n"                                                             \
        "    c = repr(e)\n"                                                                    \
        "s.close()\n"                                                                          \
        "r = 'denied' if not seen and c == 'absent' else 'visible: %%s, connect: %%s' %% (seen, c)\n"

/* Host directories that must not exist in the jail: all but those that
 * lead to an interpreter tree (a virtualenv under /opt brings /opt). */
static const char *const host_dirs[] = { "/var", "/home", "/srv", "/opt", "/run", "/boot", "/mnt", "/usr/local/bin" };

static void host_dirs_literal(const struct config *cfg, char *out, size_t size) {
        char buf[3][4096];
        const char *trees[4];
        size_t n = (size_t)snprintf(out, size, "[");
        root_python_trees(cfg->python_bin, buf, trees);
        for (size_t i = 0; i < ELEMENTSOF(host_dirs) && n < size; i++) {
                size_t len = strlen(host_dirs[i]);
                bool leads = false;
                for (size_t t = 0; trees[t]; t++)
                        leads |= strncmp(trees[t], host_dirs[i], len) == 0 && (trees[t][len] == '/' || !trees[t][len]);
                if (!leads)
                        n += (size_t)snprintf(out + n, size - n, "'%s', ", host_dirs[i]);
        }
        if (n < size)
                snprintf(out + n, size - n, "]");
}

static void run_root_probe(const struct config *cfg, json_t *checks, bool *all) {
        char plant[PATH_MAX], code[2048], detail[160], host[256];
        snprintf(plant, sizeof plant, "%s/selfcheck-plant.sock", cfg->state_dir);
        (void)unlink(plant);
        _cleanup_close_ int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (s < 0 || strlen(plant) >= sizeof sa.sun_path) {
                snprintf(detail, sizeof detail, "cannot plant a socket at %.100s", plant);
                add_check(checks, "deny_host_root_visible", false, detail, all);
                return;
        }
        memcpy(sa.sun_path, plant, strlen(plant) + 1);
        if (bind(s, (struct sockaddr *)&sa, sizeof sa) < 0 || chmod(plant, 0777) < 0 || listen(s, 4) < 0) {
                snprintf(detail, sizeof detail, "cannot plant a socket at %.100s: %s", plant, strerror(errno));
                add_check(checks, "deny_host_root_visible", false, detail, all);
                (void)unlink(plant);
                return;
        }
        _cleanup_free_ char *quoted = NULL;
        json_t *q = json_string(plant); /* a Python string literal, JSON-quoted */
        quoted = q ? json_dumps(q, JSON_ENCODE_ANY) : NULL;
        json_decref(q);
        host_dirs_literal(cfg, host, sizeof host);
        snprintf(code, sizeof code, "PLANT = %s\nHOST = %s\n" ROOT_PROBE, quoted ? quoted : "''", host);
        const struct probe pr = { "deny_host_root_visible", code, "denied" };
        run_probe(cfg, &pr, checks, all);
        /* A connection the probe could not see would still be queued. */
        int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
        if (c >= 0) {
                close(c);
                add_check(checks, "deny_host_root_reached", false, "a jail connected to the planted socket", all);
        }
        (void)unlink(plant);
}

/* Whether profile is one of the stacked components of label ("a//&b
 * (enforce)"). */
static bool label_has_profile(const char *label, const char *profile) {
        size_t n = strlen(profile);
        for (const char *c = label; c && *c; c = strstr(c, "//&") ? strstr(c, "//&") + 3 : NULL)
                if (strncmp(c, profile, n) == 0 && (c[n] == '\0' || c[n] == ' ' || strncmp(c + n, "//&", 3) == 0))
                        return true;
        return false;
}

/* AppArmor in force, not merely present: on an AppArmor kernel (unless
 * "off") the probe executions must have run under the sandbox profile, as
 * the kernel reported their label; "require" also wants it enforcing.
 * "auto" on an AppArmor kernel never passes without it. */
static json_t *apparmor_report(const struct config *cfg, json_t *checks, bool *all) {
        char detail[256];
        bool present = apparmor_present(), confined = label_has_profile(probe_label, cfg->apparmor_profile);
        bool enforcing = confined && strstr(probe_label, "(enforce)");
        const char *mode = cfg->apparmor == APPARMOR_AUTO ? "auto" : cfg->apparmor == APPARMOR_REQUIRE ? "require" : "off";
        const char *state = cfg->apparmor == APPARMOR_OFF ? "off" : !present ? "absent" : !confined ? "not in force"
                          : enforcing ? "enforced" : "complain";
        bool ok = cfg->apparmor == APPARMOR_OFF ? true : cfg->apparmor == APPARMOR_REQUIRE ? enforcing : !present || confined;
        snprintf(detail, sizeof detail, "mode %s, kernel %s, executions run under '%.100s'", mode,
                 present ? "has AppArmor" : "has no AppArmor", probe_label[0] ? probe_label : "no AppArmor label");
        add_check(checks, "layer_apparmor", ok, detail, all);
        return json_pack("{s:s, s:s, s:s?}", "apparmor", state, "apparmor_profile", cfg->apparmor_profile,
                         "apparmor_label", probe_label[0] ? probe_label : NULL);
}

/* What an older Landlock ABI lacks, and what covers for it (Debian 12's
 * 6.1 has ABI 2, Debian 13's 6.12 ABI 6), appended to out. */
static void landlock_gaps(int abi, char *out, size_t size) {
        static const struct {
                int abi;
                const char *what;
        } gaps[] = {
                { 3, "no truncate right (tmp/ is the only writable place anyway)" },
                { 4, "no TCP rules (the seccomp socket rule and the network namespace cover them)" },
                { 5, "no device ioctl right (the root holds five plain devices)" },
                { 6, "no abstract-socket or signal scoping (the execution's own network namespace holds its "
                     "abstract sockets; its fresh UID and PID namespace keep its signals in)" },
        };
        size_t n = strlen(out);
        for (size_t i = 0; i < ELEMENTSOF(gaps) && n < size; i++)
                if (abi < gaps[i].abi)
                        n += (size_t)snprintf(out + n, size - n, "; below ABI %d %s", gaps[i].abi, gaps[i].what);
}

static json_t *layers_report(const struct config *cfg, json_t *checks, bool *all) {
        unsigned sab = jail_sabotaged_layers();
        int abi = landlock_abi();
        bool ll = abi >= 1 && !(sab & LAYER_LANDLOCK);
        char buf[768];
        snprintf(buf, sizeof buf, "ABI %d, %s", abi,
                 ll ? "enforced" : sab & LAYER_LANDLOCK ? "switched off (sabotage build)" : "not available in this kernel");
        if (ll)
                landlock_gaps(abi, buf, sizeof buf);
        add_check(checks, "layer_landlock", ll, buf, all);

        bool sc = !(sab & (LAYER_SECCOMP | LAYER_EXEC_ONCE));
        add_check(checks, "layer_seccomp", sc, sc ? "filter with exec supervisor" : "switched off (sabotage build)", all);

        bool ns = !(sab & (LAYER_NAMESPACES | LAYER_MOUNTS | LAYER_UID | LAYER_RLIMITS | LAYER_CAPS | LAYER_NNP));
        add_check(checks, "layer_namespaces_uid_rlimits", ns, ns ? "pid, mount, net, ipc, uts; fresh uid; rlimits; no caps; no_new_privs" : "switched off (sabotage build)", all);

        json_t *layers = apparmor_report(cfg, checks, all);
        json_t *more = json_pack("{s:i, s:b, s:[sssss], s:[I,I]}", "landlock_abi", ll ? abi : 0, "seccomp", sc,
                                 "namespaces", "pid", "mount", "net", "ipc", "uts", "sandbox_uid_range",
                                 (json_int_t)cfg->uid_min, (json_int_t)cfg->uid_max);
        if (layers && more)
                json_object_update(layers, more);
        json_decref(more);
        return layers;
}

static int write_atomic(const char *dir, const char *name, const char *text) {
        char tmp[4096], final[4096];
        snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX", dir, name);
        snprintf(final, sizeof final, "%s/%s", dir, name);
        _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        size_t len = strlen(text);
        if (write(fd, text, len) != (ssize_t)len || fchmod(fd, 0644) < 0 || fsync(fd) < 0 || rename(tmp, final) < 0) {
                int r = negative_errno();
                unlink(tmp);
                return r;
        }
        return 0;
}

int health_selfcheck(const struct config *cfg) {
        json_t *checks = json_array();
        bool all = true;
        char detail[256];

        /* The service side: the same in-process hardening a serving
         * instance applies, then each measure probed by trying it. The
         * outsider is started first; it leaves when its pipe closes. */
        int op[2] = { -1, -1 };
        pid_t outsider = pipe2(op, O_CLOEXEC) == 0 ? fork() : -1;
        if (outsider == 0) {
                char c;
                close(op[1]);
                while (read(op[0], &c, 1) < 0 && errno == EINTR)
                        ;
                _exit(0);
        }
        if (op[0] >= 0)
                close(op[0]);
        for (size_t i = 0; i < ELEMENTSOF(own_ns); i++)
                ns_before[i] = ns_inode(own_ns[i][0]);
        const char *step = NULL;
        int r = harden_self(cfg, &step);
        if (r < 0)
                snprintf(detail, sizeof detail, "failed at %s: %s", step, strerror(-r));
        else
                snprintf(detail, sizeof detail,
                         "network, uts+ipc, filesystem+proc, dumpable, capabilities, no_new_privs, signal scope, seccomp");
        add_check(checks, "service_hardening", r >= 0, detail, &all);
        probe_service(checks, &all, outsider);
        probe_privsep(checks, &all);
        if (op[1] >= 0)
                close(op[1]);
        if (outsider > 0)
                while (waitpid(outsider, NULL, 0) < 0 && errno == EINTR)
                        ;

        /* For the survivor checks only: a procfs that shows every process,
         * in this process's private /tmp. */
        static const char full_proc[] = "/tmp/codejail-selfcheck-proc";
        if (r >= 0 && !SABOTAGED(LAYER_SELF_MOUNTS) && (mkdir(full_proc, 0700) == 0 || errno == EEXIST) &&
            mount("proc", full_proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL) == 0)
                probe_proc = full_proc;

        for (size_t i = 0; i < ELEMENTSOF(probes); i++)
                run_probe(cfg, &probes[i], checks, &all);
        run_root_probe(cfg, checks, &all);
        json_t *modules = run_module_probes(cfg, checks, &all);
        /* The interpreter's version, as executions see it (build info of
         * GET /metrics): python_bin may be a virtualenv's. */
        static const struct probe python = { "sandbox_python_version",
                                             "import sys\nr = 'version %d.%d.%d' % sys.version_info[:3]\ndel sys",
                                             "version *" };
        char python_version[64] = "";
        run_probe_r(cfg, &python, checks, &all, python_version, sizeof python_version);
        json_t *layers = layers_report(cfg, checks, &all);

        time_t now = time(NULL);
        char iso[64];
        strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
        json_t *state = json_pack("{s:s, s:I, s:s, s:o, s:o, s:o, s:s, s:s?}", "status", all ? "OK" : "FAILED",
                                  "timestamp", (json_int_t)now, "time", iso, "layers", layers, "sandbox_modules",
                                  modules, "checks", checks, "version", PACKAGE_VERSION, "python",
                                  strncmp(python_version, "version ", 8) == 0 ? python_version + 8 : NULL);
        _cleanup_free_ char *text = json_dumps(state, JSON_INDENT(2));
        if (mkdir(cfg->state_dir, 0755) < 0 && errno != EEXIST)
                r = negative_errno();
        else
                r = text ? write_atomic(cfg->state_dir, "health.json", text) : -ENOMEM;

        size_t failed = 0;
        json_t *c;
        size_t i;
        const char *first = NULL;
        json_array_foreach(checks, i, c) if (!json_is_true(json_object_get(c, "pass"))) {
                if (!failed++)
                        first = json_string_value(json_object_get(c, "name"));
        }
        char status[256];
        if (r < 0)
                snprintf(status, sizeof status, "selfcheck: cannot write %s/health.json: %s", cfg->state_dir, strerror(-r));
        else if (failed)
                snprintf(status, sizeof status, "selfcheck FAILED: %zu of %zu checks failed (first: %s)", failed, json_array_size(checks), first);
        else
                snprintf(status, sizeof status, "selfcheck OK: %zu checks passed", json_array_size(checks));
        log_msg(failed || r < 0 ? LOG_LEVEL_ERR : LOG_LEVEL_INFO, "%s", status);
        json_array_foreach(checks, i, c) if (!json_is_true(json_object_get(c, "pass")))
                log_error("selfcheck %s failed: %s", json_string_value(json_object_get(c, "name")),
                          json_string_value(json_object_get(c, "detail")));
        char notify[320];
        snprintf(notify, sizeof notify, "READY=1\nSTATUS=%s", status);
        (void)sdproto_notify(notify);
        json_decref(state);
        if (r < 0)
                return r;
        return failed ? 1 : 0;
}

/* The state read once by health_preload() (the unprivileged side opens
 * no file), or not yet read. */
static json_t *preloaded;
static bool have_preloaded;

static json_t *load_state(const struct config *cfg) {
        char path[4096];
        if (have_preloaded)
                return json_incref(preloaded);
        snprintf(path, sizeof path, "%s/health.json", cfg->state_dir);
        return json_load_file(path, 0, NULL);
}

void health_preload(const struct config *cfg) {
        json_t *s = load_state(cfg);
        json_decref(preloaded);
        preloaded = s, have_preloaded = true;
}

bool health_ok(const struct config *cfg, json_t **state) {
        json_t *s = load_state(cfg);
        if (state)
                *state = s ? json_incref(s) : NULL;
        bool ok = false;
        if (s) {
                json_int_t ts = json_integer_value(json_object_get(s, "timestamp"));
                time_t now = time(NULL);
                ok = streq_safe(json_string_value(json_object_get(s, "status")), "OK") && ts <= now + 60 &&
                     now - ts <= cfg->health_max_age_s;
        }
        json_decref(s);
        return ok;
}
