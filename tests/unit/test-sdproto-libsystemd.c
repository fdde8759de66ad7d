/* SPDX-License-Identifier: Apache-2.0 */
/* sdproto against libsystemd, the reference: for the same calls,
 * sdproto's datagrams must equal libsystemd's byte for byte (sd_notify,
 * sd_journal_sendv: field order, binary-safe fields with newlines and NULs,
 * long values) and sdproto_listen_fds() must answer as sd_listen_fds(1)
 * does on the same environments. libsystemd is linked here only: the
 * service speaks the protocols itself (sdproto.h says why).
 *
 * The journal socket's path is fixed in libsystemd, so that part captures
 * it in a private mount namespace; without the privilege for one it
 * reports SKIP (77), naming what is missing. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>
/* As log.c sends: no CODE_FILE/CODE_LINE/CODE_FUNC of the caller. */
#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#include "sdproto.h"

static char dir[] = "/tmp/test-sdproto-ref-XXXXXX";

/* A datagram socket bound at path (or "@name": abstract). */
static int bind_dgram(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        socklen_t len = offsetof(struct sockaddr_un, sun_path) + strlen(path) + (path[0] != '@');
        memcpy(sa.sun_path, path, strlen(path));
        if (path[0] == '@')
                sa.sun_path[0] = '\0';
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        assert_true(fd >= 0);
        int big = 1 << 20;
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, len), 0);
        return fd;
}

static ssize_t recv_one(int fd, char *buf, size_t size) {
        ssize_t n = recv(fd, buf, size, MSG_DONTWAIT);
        assert_true(n >= 0);
        return n;
}

static void test_notify_equal(void **state) {
        static const char *const addrs[] = { NULL, "@test-sdproto-ref-notify" };
        char long_status[3000];
        memset(long_status, 'x', sizeof long_status - 1);
        long_status[sizeof long_status - 1] = '\0';
        char with_long[3100];
        snprintf(with_long, sizeof with_long, "STATUS=%s", long_status);
        const char *const states[] = { "READY=1", "READY=1\nSTATUS=selfcheck OK: 34 checks passed", with_long,
                                       "STATUS=a=b=c\n", "" };
        for (size_t a = 0; a < 2; a++) {
                char path[128];
                snprintf(path, sizeof path, "%s/notify", dir);
                const char *addr = addrs[a] ? addrs[a] : path;
                int fd = bind_dgram(addr);
                setenv("NOTIFY_SOCKET", addr, 1);
                for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
                        static char ours[8192], theirs[8192];
                        int r1 = sdproto_notify(states[i]);
                        ssize_t n1 = r1 > 0 ? recv_one(fd, ours, sizeof ours) : -1;
                        int r2 = sd_notify(0, states[i]);
                        ssize_t n2 = r2 > 0 ? recv_one(fd, theirs, sizeof theirs) : -1;
                        if (r1 != r2 || n1 != n2 || (n1 > 0 && memcmp(ours, theirs, (size_t)n1) != 0))
                                fail_msg("%s, state %zu: sdproto %d/%zd bytes, libsystemd %d/%zd bytes", addr, i,
                                         r1, n1, r2, n2);
                }
                close(fd);
                if (!addrs[a])
                        unlink(path);
        }
        unsetenv("NOTIFY_SOCKET");
        assert_int_equal(sdproto_notify("READY=1"), sd_notify(0, "READY=1")); /* both 0: not under systemd */
}

static void test_listen_fds_equal(void **state) {
        char pid[32], other[32];
        snprintf(pid, sizeof pid, "%d", (int)getpid());
        snprintf(other, sizeof other, "%d", (int)getpid() + 1);
        const struct {
                const char *pid, *fds;
        } envs[] = {
                { NULL, NULL }, { pid, NULL }, { NULL, "1" }, { other, "1" }, { pid, "1" },
                { pid, "2" },   { pid, "0" },  { pid, "x" }, { "x", "1" },   { pid, "-1" },
                { "x", NULL },  { other, "x" }, { "0", "1" }, { " 1", "1" }, { pid, "" },
        };
        int sv[2], sv2[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv2), 0);
        assert_int_equal(dup2(sv[0], 3), 3);
        assert_int_equal(dup2(sv2[0], 4), 4);
        for (size_t i = 0; i < sizeof envs / sizeof envs[0]; i++) {
                int r[2];
                for (int impl = 0; impl < 2; impl++) {
                        unsetenv("LISTEN_PID");
                        unsetenv("LISTEN_FDS");
                        if (envs[i].pid)
                                setenv("LISTEN_PID", envs[i].pid, 1);
                        if (envs[i].fds)
                                setenv("LISTEN_FDS", envs[i].fds, 1);
                        r[impl] = impl ? sd_listen_fds(1) : sdproto_listen_fds();
                        /* both consume the variables */
                        assert_null(getenv("LISTEN_PID"));
                        assert_null(getenv("LISTEN_FDS"));
                        if (r[impl] > 0)
                                assert_true(fcntl(3, F_GETFD) & FD_CLOEXEC);
                        (void)fcntl(3, F_SETFD, 0);
                        (void)fcntl(4, F_SETFD, 0);
                }
                if (r[0] != r[1])
                        fail_msg("LISTEN_PID=%s LISTEN_FDS=%s: sdproto %d, libsystemd %d", envs[i].pid ? envs[i].pid : "-",
                                 envs[i].fds ? envs[i].fds : "-", r[0], r[1]);
        }
        close(3);
        close(4);
}

/* The journal part, in a private mount namespace where our socket sits at
 * libsystemd's fixed path. */
static bool journal_ns;

static int setup_journal_ns(void) {
        if (unshare(CLONE_NEWNS) < 0)
                return -errno;
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return -errno;
        (void)mkdir("/run/systemd", 0755);
        (void)mkdir("/run/systemd/journal", 0755);
        if (mount("tmpfs", "/run/systemd/journal", "tmpfs", 0, "mode=0755,size=64k") < 0)
                return -errno;
        journal_ns = true;
        return 0;
}

static void test_journal_equal(void **state) {
        if (!journal_ns)
                skip();
        int fd = bind_dgram("/run/systemd/journal/socket");
        static char bin[] = "binary\0with NUL and\nnewline";
        static char big[16384];
        memset(big, 'v', sizeof big);
        memcpy(big, "LONG_VALUE=", 11);
        /* Every set names SYSLOG_IDENTIFIER, as log.c always does
         * (libsystemd appends one of its own when none is given). */
#define IDENT { "SYSLOG_IDENTIFIER=codejail", 26 }
        struct iovec sets[][6] = {
                { { "MESSAGE=hello", 13 }, { "PRIORITY=6", 10 }, IDENT },
                { { "MESSAGE=two\nlines", 17 }, IDENT, { "CODEJAIL_STATUS=executed.error", 30 } },
                { { "CODEJAIL_BIN=", 13 }, IDENT },
                { { big, sizeof big }, IDENT, { "Z=last", 6 } },
                { { "CODEJAIL_EMPTY=", 15 }, { "MESSAGE=", 8 }, IDENT },
        };
        size_t counts[] = { 3, 3, 2, 3, 3 };
        /* a value with a NUL and a newline: binary form */
        char binfield[64];
        size_t blen = (size_t)snprintf(binfield, sizeof binfield, "BIN=");
        memcpy(binfield + blen, bin, sizeof bin - 1);
        sets[2][0] = (struct iovec){ binfield, blen + sizeof bin - 1 };
        for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
                static char ours[65536], theirs[65536];
                assert_int_equal(sdproto_journal_sendv(sets[i], counts[i]), 0);
                ssize_t n1 = recv_one(fd, ours, sizeof ours);
                assert_int_equal(sd_journal_sendv(sets[i], (int)counts[i]), 0);
                ssize_t n2 = recv_one(fd, theirs, sizeof theirs);
                if (n1 != n2 || memcmp(ours, theirs, (size_t)n1) != 0)
                        fail_msg("journal set %zu: sdproto %zd bytes, libsystemd %zd bytes differ", i, n1, n2);
        }
        close(fd);
}

int main(void) {
        if (!mkdtemp(dir))
                return 1;
        int r = setup_journal_ns();
        if (r < 0)
                fprintf(stderr, "SKIP journal part: no private mount namespace for libsystemd's fixed socket "
                                "path (%s; needs root)\n", strerror(-r));
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_notify_equal),
                cmocka_unit_test(test_listen_fds_equal),
                cmocka_unit_test(test_journal_equal),
        };
        int failed = cmocka_run_group_tests(tests, NULL, NULL);
        rmdir(dir);
        /* Everything ran but the journal part: SKIP, not PASS, so a build
         * daemon's log says what was not proven. */
        return failed ? failed : journal_ns ? 0 : 77;
}
