/* SPDX-License-Identifier: Apache-2.0 */
/* The unprivileged side's fork and confinement (unpriv.c): the socketpair
 * between the two processes and the parent's CPU handed over, and the
 * drop tried in a child, which then attempts what it must not do. */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"
#include "unpriv.h"

static int reaped(pid_t pid) {
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Each side gets its end, close-on-exec, and the bytes cross; the child
 * learns the CPU its parent had used (at least what was burnt here). */
static void test_fork(void **state) {
        struct timespec t0, t;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
        do
                clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
        while ((t.tv_sec - t0.tv_sec) * 1000000000L + t.tv_nsec - t0.tv_nsec < 2000000L);
        long long burnt_us = (long long) t.tv_sec * 1000000 + t.tv_nsec / 1000;
        int fd = -1;
        long long cpu = -1;
        pid_t pid = unpriv_fork(&fd, &cpu);
        assert_true(pid >= 0);
        if (pid == 0) {
                char c = 'c';
                bool ok = cpu >= burnt_us && (fcntl(fd, F_GETFD) & FD_CLOEXEC) && write(fd, &c, 1) == 1;
                _exit(ok ? 0 : 1);
        }
        char c = 0;
        assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        assert_int_equal(read(fd, &c, 1), 1);
        assert_int_equal(c, 'c');
        assert_int_equal(cpu, -1); /* set in the child only */
        close(fd);
        assert_int_equal(reaped(pid), 0);
}

/* After the drop, in a child: exit code = the first thing that worked. */
static int dropped_child(void) {
        const char *step = "?";
        if (unpriv_drop(getppid(), &step) < 0)
                return 10;
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
        struct __user_cap_data_struct d[2] = { 0 };
        if (syscall(SYS_capget, &h, d) < 0 || d[0].effective || d[0].permitted || d[1].effective || d[1].permitted)
                return 11;
        if (prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) != 0)
                return 12;
        if (open("/etc/passwd", O_RDONLY | O_CLOEXEC) >= 0)
                return 13;
        if (socket(AF_UNIX, SOCK_DGRAM, 0) >= 0)
                return 14;
        if (syscall(SYS_getpid) < 0 || fork() >= 0)
                return 15;
        if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1 || prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
                return 16;
        return 0;
}

static void test_drop(void **state) {
        if (geteuid() != 0)
                skip(); /* the bounding set needs CAP_SETPCAP */
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
                _exit(dropped_child());
        assert_int_equal(reaped(pid), 0);
}

/* systemd's SecureBits=noroot-locked (both units set it) locks NOROOT
 * off: the drop must keep that and lock the rest. */
static void test_drop_under_locked_securebits(void **state) {
        if (geteuid() != 0)
                skip();
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                const char *step = "?";
                if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT_LOCKED, 0, 0, 0) < 0)
                        _exit(20);
                if (unpriv_drop(getppid(), &step) < 0)
                        _exit(21);
                int bits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
                _exit(bits == (SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED |
                               SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
                               SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED) ? 0 : 22);
        }
        assert_int_equal(reaped(pid), 0);
}

int main(void) {
        log_set_target_stderr(1);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fork),
                cmocka_unit_test(test_drop),
                cmocka_unit_test(test_drop_under_locked_securebits),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
