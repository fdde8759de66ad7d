/* SPDX-License-Identifier: Apache-2.0 */
/* systemd client protocols on plain sockets: $LISTEN_FDS parsing, socket
 * type checks, sd_notify datagrams (path and abstract), and the native
 * journal protocol's text and binary field forms. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "sdproto.h"

static void test_listen_fds(void **state) {
        char pid[32];
        snprintf(pid, sizeof pid, "%d", (int)getpid());

        unsetenv("LISTEN_PID");
        unsetenv("LISTEN_FDS");
        assert_int_equal(sdproto_listen_fds(), 0);

        /* for another process: ignored, but the variables are consumed */
        setenv("LISTEN_PID", "1", 1);
        setenv("LISTEN_FDS", "1", 1);
        assert_int_equal(sdproto_listen_fds(), 0);
        assert_null(getenv("LISTEN_FDS"));

        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        assert_int_equal(dup2(sv[0], 3), 3);
        setenv("LISTEN_PID", pid, 1);
        setenv("LISTEN_FDS", "1", 1);
        setenv("LISTEN_FDNAMES", "connection", 1);
        assert_int_equal(sdproto_listen_fds(), 1);
        assert_true(fcntl(3, F_GETFD) & FD_CLOEXEC);
        assert_null(getenv("LISTEN_PID"));
        assert_null(getenv("LISTEN_FDNAMES"));

        setenv("LISTEN_PID", pid, 1);
        setenv("LISTEN_FDS", "x1", 1);
        assert_int_equal(sdproto_listen_fds(), -EINVAL);
        close(3);
        close(sv[0]);
        close(sv[1]);
}

static void test_is_socket(void **state) {
        int sv[2], p[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        assert_int_equal(pipe(p), 0);
        int l = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "\0sdproto-test-listen" };
        assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof sa), 0);
        assert_int_equal(listen(l, 1), 0);
        int d = socket(AF_UNIX, SOCK_DGRAM, 0);

        assert_int_equal(sdproto_is_socket(sv[0], SOCK_STREAM, 0), 1);
        assert_int_equal(sdproto_is_socket(sv[0], SOCK_STREAM, 1), 0);
        assert_int_equal(sdproto_is_socket(l, SOCK_STREAM, 1), 1);
        assert_int_equal(sdproto_is_socket(l, SOCK_STREAM, 0), 0);
        assert_int_equal(sdproto_is_socket(d, SOCK_STREAM, -1), 0);
        assert_int_equal(sdproto_is_socket(p[0], SOCK_STREAM, -1), 0);
        assert_int_equal(sdproto_is_socket(999, SOCK_STREAM, -1), -EBADF);
        close(sv[0]), close(sv[1]), close(p[0]), close(p[1]), close(l), close(d);
}

static int dgram_bound(const char *path, size_t len) {
        int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        memcpy(sa.sun_path, path, len);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)), 0);
        return fd;
}

static void test_notify(void **state) {
        char buf[256];
        unsetenv("NOTIFY_SOCKET");
        assert_int_equal(sdproto_notify("READY=1"), 0);

        char path[] = "/tmp/sdproto-notify-XXXXXX";
        int tmp = mkstemp(path);
        close(tmp);
        unlink(path);
        int fd = dgram_bound(path, strlen(path) + 1);
        setenv("NOTIFY_SOCKET", path, 1);
        assert_int_equal(sdproto_notify("READY=1\nSTATUS=ok"), 1);
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        assert_int_equal(n, 17);
        assert_memory_equal(buf, "READY=1\nSTATUS=ok", 17);
        close(fd);
        unlink(path);

        fd = dgram_bound("\0sdproto-notify-abstract", 24);
        setenv("NOTIFY_SOCKET", "@sdproto-notify-abstract", 1);
        assert_int_equal(sdproto_notify("STATUS=x"), 1);
        n = recv(fd, buf, sizeof buf, 0);
        assert_int_equal(n, 8);
        close(fd);

        setenv("NOTIFY_SOCKET", "relative", 1);
        assert_int_equal(sdproto_notify("READY=1"), -EINVAL);
        unsetenv("NOTIFY_SOCKET");
}

static void test_journal_fields(void **state) {
        char path[] = "/tmp/sdproto-journal-XXXXXX";
        int tmp = mkstemp(path);
        close(tmp);
        unlink(path);
        int fd = dgram_bound(path, strlen(path) + 1);
        struct iovec f[] = {
                { "MESSAGE=hello", 13 },
                { "CODEJAIL_STATUS=executed.success", 32 },
                { "MULTI=a\nb", 9 },
        };
        assert_int_equal(sdproto_journal_sendv_to(path, f, 3), 0);
        unsigned char buf[512];
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        static const unsigned char want[] = "MESSAGE=hello\nCODEJAIL_STATUS=executed.success\nMULTI\n"
                                            "\x03\0\0\0\0\0\0\0a\nb\n";
        assert_int_equal(n, sizeof want - 1);
        assert_memory_equal(buf, want, sizeof want - 1);

        struct iovec bad = { "NOEQUALS", 8 };
        assert_int_equal(sdproto_journal_sendv_to(path, &bad, 1), -EINVAL);
        close(fd);
        unlink(path);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_listen_fds),
                cmocka_unit_test(test_is_socket),
                cmocka_unit_test(test_notify),
                cmocka_unit_test(test_journal_fields),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
