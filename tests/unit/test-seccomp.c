/* SPDX-License-Identifier: Apache-2.0 */
/* The seccomp filters: the BPF codejaild ships is what libseccomp builds
 * from the rules today, and try-the-syscall probes in a child with the
 * shipped BPF loaded (exec notification off: no supervisor). */
#include <errno.h>
#include <linux/sched.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "macro.h"
#include "seccomp-bpf.h"
#include "seccomp-filter.h"
#include "seccomp-load.h"

static void test_builds(void **state) {
        scmp_filter_ctx ctx;
        assert_int_equal(seccomp_filter_new(true, &ctx), 0);
        seccomp_release(ctx);
        /* the deny list names real syscalls of this architecture */
        size_t n = 0;
        for (size_t i = 0; seccomp_denied_syscalls[i]; i++)
                if (seccomp_syscall_resolve_name(seccomp_denied_syscalls[i]) != __NR_SCMP_ERROR)
                        n++;
        assert_true(n >= 40);
}

/* The generated header is current: each shipped program is exactly what
 * libseccomp exports for the rules in seccomp-filter.c now. */
static void expect_same(scmp_filter_ctx ctx, const struct sock_filter *f, size_t n) {
        FILE *tmp = tmpfile();
        assert_non_null(tmp);
        assert_int_equal(seccomp_export_bpf(ctx, fileno(tmp)), 0);
        seccomp_release(ctx);
        long len = ftell(tmp) >= 0 ? (fseek(tmp, 0, SEEK_END), ftell(tmp)) : -1;
        assert_int_equal(len, (long)(n * sizeof *f));
        rewind(tmp);
        struct sock_filter *got = malloc(n * sizeof *f);
        assert_non_null(got);
        assert_int_equal(fread(got, sizeof *f, n, tmp), n);
        assert_memory_equal(got, f, n * sizeof *f);
        free(got);
        fclose(tmp);
}

static void test_generated(void **state) {
        scmp_filter_ctx ctx;
        assert_int_equal(seccomp_allow_filter_new(&ctx), 0);
        expect_same(ctx, seccomp_bpf_service_allow, ELEMENTSOF(seccomp_bpf_service_allow));
        assert_int_equal(seccomp_service_filter_new(&ctx), 0);
        expect_same(ctx, seccomp_bpf_service_deny, ELEMENTSOF(seccomp_bpf_service_deny));
        assert_int_equal(seccomp_filter_new(true, &ctx), 0);
        expect_same(ctx, seccomp_bpf_jail_notify, ELEMENTSOF(seccomp_bpf_jail_notify));
        assert_int_equal(seccomp_filter_new(false, &ctx), 0);
        expect_same(ctx, seccomp_bpf_jail_plain, ELEMENTSOF(seccomp_bpf_jail_plain));
        assert_int_equal(seccomp_privsep_filter_new(&ctx), 0);
        expect_same(ctx, seccomp_bpf_privsep, ELEMENTSOF(seccomp_bpf_privsep));
}

static int err_of(long r) { return r < 0 ? errno : 0; }

static void test_probes(void **state) {
        pid_t pid = fork();
        if (pid == 0) {
                prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
                if (seccomp_load_jail(false) < 0)
                        _exit(100);
                int code = 0;
                if (err_of(socket(AF_INET, SOCK_STREAM, 0)) != EACCES) code |= 1;
                if (err_of(socket(AF_INET6, SOCK_DGRAM, 0)) != EACCES) code |= 2;
                if (err_of(socket(AF_NETLINK, SOCK_RAW, 0)) != EACCES) code |= 4;
                if (err_of(socket(AF_UNIX, SOCK_STREAM, 0)) != 0) code |= 8;
                if (err_of(ptrace(PTRACE_TRACEME, 0, 0, 0)) != EPERM) code |= 16;
                if (err_of(unshare(CLONE_NEWUSER)) != EPERM) code |= 32;
                if (err_of(mount("none", "/mnt", "tmpfs", 0, NULL)) != EPERM) code |= 64;
                if (err_of(syscall(SYS_io_uring_setup, 1, NULL)) != EPERM) code |= 128;
                if (err_of(syscall(SYS_clone3, NULL, 0)) != ENOSYS) code |= 256;
                if (err_of(syscall(SYS_bpf, 0, NULL, 0)) != EPERM) code |= 512;
                if (err_of(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) != EPERM) code |= 2048;
                if (err_of(prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0)) != 0) code |= 4096;
                /* clone without namespace flags (fork) still works */
                pid_t c = fork();
                if (c == 0)
                        _exit(0);
                if (c < 0 || waitpid(c, NULL, 0) != c) code |= 1024;
                _exit(code > 255 ? 255 : code ? code : 0);
        }
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st));
        if (WEXITSTATUS(st) != 0)
                fail_msg("seccomp probe mask %d", WEXITSTATUS(st));
}

/* The service filter's argument rules: each denied form next to the
 * allowed neighbour the service and the interpreter need. */
static void test_service_probes(void **state) {
        char dir[] = "/tmp/test-seccomp-XXXXXX";
        assert_non_null(mkdtemp(dir));
        pid_t pid = fork();
        if (pid == 0) {
                prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
                if (seccomp_load_service() < 0)
                        _exit(100);
                int first = 0, n = 0; /* the first wrong answer, 1-based */
#define EXPECT(call, err) do { n++; if (err_of(call) != (err) && !first) first = n; } while (0)
                void *rw = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                EXPECT(rw == MAP_FAILED ? -1 : 0, 0);
                EXPECT(mprotect(rw, 4096, PROT_READ | PROT_EXEC), 0);
                EXPECT(mprotect(rw, 4096, PROT_READ | PROT_WRITE | PROT_EXEC), EPERM);
                void *wx = mmap(NULL, 4096, PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                EXPECT(wx == MAP_FAILED ? -1 : 0, EPERM);
                char f[300];
                snprintf(f, sizeof f, "%s/f", dir);
                EXPECT(openat(AT_FDCWD, f, O_WRONLY | O_CREAT | O_CLOEXEC, 04755), EPERM);
                EXPECT(openat(AT_FDCWD, f, O_WRONLY | O_CREAT | O_CLOEXEC, 02755), EPERM);
                int fd = openat(AT_FDCWD, f, O_WRONLY | O_CREAT | O_CLOEXEC, 0755);
                EXPECT(fd, 0);
                EXPECT(fchmod(fd, 04755), EPERM);
                EXPECT(chmod(f, 02755), EPERM);
                EXPECT(fchmodat(AT_FDCWD, f, 04700, 0), EPERM);
                EXPECT(syscall(452 /* fchmodat2 */, AT_FDCWD, f, 04700, 0), EPERM);
                EXPECT(fchmod(fd, 0700), 0);
                EXPECT(mknod(f, S_IFIFO | 04600, 0), EPERM);
                EXPECT(unshare(CLONE_NEWCGROUP), EPERM);
                EXPECT(unshare(CLONE_NEWTIME), EPERM);
                EXPECT(unshare(CLONE_NEWUSER), EPERM);
                EXPECT(syscall(SYS_clone, CLONE_NEWCGROUP | SIGCHLD, NULL, NULL, NULL, 0), EPERM);
                EXPECT(sethostname("x", 1), EPERM);
                EXPECT(syscall(SYS_modify_ldt, 0, NULL, 0), EPERM);
                EXPECT(socket(AF_INET, SOCK_STREAM, 0), EACCES);
                EXPECT(socket(AF_UNIX, SOCK_STREAM, 0) < 0 ? -1 : 0, 0);
                struct sched_param sp = { .sched_priority = 1 };
                EXPECT(sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp), EPERM);
                sp.sched_priority = 0;
                EXPECT(sched_setscheduler(0, SCHED_BATCH, &sp), 0);
                /* the allow-list: mincore is in no deny list, only outside
                 * @system-service; getpid is inside */
                unsigned char vec[1];
                EXPECT(mincore(rw, 4096, vec), EPERM);
                EXPECT(syscall(SYS_getpid) > 0 ? 0 : -1, 0);
#undef EXPECT
                unlink(f);
                _exit(first);
        }
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        char f[300];
        snprintf(f, sizeof f, "%s/f", dir);
        unlink(f);
        rmdir(dir);
        assert_true(WIFEXITED(st));
        if (WEXITSTATUS(st) != 0)
                fail_msg("service filter: check #%d (0-based) gave the wrong answer", WEXITSTATUS(st) - 1);
}

/* The parsing side's allow-list (privsep.c): what it does on its fds
 * works; each argument rule next to its denied neighbour; nothing that
 * opens, creates a socket, spawns or changes identity. */
static void test_privsep_probes(void **state) {
        pid_t pid = fork();
        if (pid == 0) {
                int sv[2], first = 0, n = 0;
                struct stat st;
                char c = 'x';
                if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
                        _exit(100);
                prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
                if (seccomp_load_privsep() < 0)
                        _exit(100);
#define EXPECT(call, err) do { n++; if (err_of(call) != (err) && !first) first = n; } while (0)
                EXPECT(write(sv[0], &c, 1) == 1 ? 0 : -1, 0);
                EXPECT(read(sv[1], &c, 1) == 1 ? 0 : -1, 0);
                EXPECT(fstat(sv[0], &st), 0);
                EXPECT(syscall(SYS_newfstatat, AT_FDCWD, "/etc/passwd", &st, 0), EPERM);
                EXPECT(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 ? 0 : -1, 0);
                EXPECT(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), EPERM);
                EXPECT(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, 0, 0, 0) >= 0 ? 0 : -1, 0);
                EXPECT(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), EPERM);
                EXPECT(openat(AT_FDCWD, "/etc/passwd", O_RDONLY | O_CLOEXEC), EPERM);
                EXPECT(socket(AF_UNIX, SOCK_DGRAM, 0), EPERM);
                EXPECT(syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, 0), EPERM);
                EXPECT(syscall(SYS_execve, "/bin/true", NULL, NULL), EPERM);
                EXPECT(syscall(SYS_setresuid, 1, 1, 1), EPERM);
                EXPECT(ptrace(PTRACE_TRACEME, 0, 0, 0), EPERM);
                EXPECT(syscall(SYS_getpid) > 0 ? 0 : -1, 0);
#undef EXPECT
                _exit(first);
        }
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st));
        if (WEXITSTATUS(st) != 0)
                fail_msg("privsep filter: check #%d (0-based) gave the wrong answer", WEXITSTATUS(st) - 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_privsep_probes),
                cmocka_unit_test(test_builds),
                cmocka_unit_test(test_generated),
                cmocka_unit_test(test_probes),
                cmocka_unit_test(test_service_probes),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
