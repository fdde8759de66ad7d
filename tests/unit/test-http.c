/* SPDX-License-Identifier: Apache-2.0 */
/* http.c: one request from a socketpair, each bound and rejection. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "http.h"

#define S(x) (x), (sizeof(x) - 1)
#define SEC UINT64_C(1000000000)

static void write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        _exit(3);
                }
                p += k;
                n -= (size_t) k;
        }
}

static pid_t last_child = -1;

struct run {
        int sv[2];      /* [0] client, [1] server side */
        pid_t child;
        struct http_request req;
        struct http_error err;
        int r;
        uint64_t elapsed_ns;
};

enum client_mode {
        SEND_AND_SHUT,   /* write everything then shutdown(SHUT_WR) */
        SEND_AND_HOLD,   /* write everything, keep the connection open */
        SEND_TRICKLE,    /* one byte every 50 ms, forever */
        SEND_EXPECT,     /* head, wait for "100 Continue", then body */
};

/* The client runs in a child so bodies larger than the socket buffer and
 * slow senders work; the server side runs here. */
static void run_request(struct run *run, enum client_mode mode, const char *data, size_t len,
                        size_t head_len, struct http_limits lim_in) {
        memset(run, 0, sizeof *run);
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, run->sv), 0);
        if (last_child > 0) { /* left over by a failed assertion */
                kill(last_child, SIGKILL);
                waitpid(last_child, NULL, 0);
        }
        run->child = last_child = fork();
        assert_true(run->child >= 0);
        if (run->child == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                alarm(20);
                close(run->sv[1]);
                int fd = run->sv[0];
                switch (mode) {
                case SEND_AND_SHUT:
                        write_all(fd, data, len);
                        shutdown(fd, SHUT_WR);
                        break;
                case SEND_AND_HOLD:
                        write_all(fd, data, len);
                        pause();
                        break;
                case SEND_TRICKLE:
                        for (size_t i = 0;; i = (i + 1) % len) {
                                write_all(fd, data + i, 1);
                                usleep(50000);
                        }
                case SEND_EXPECT: {
                        static const char want[] = "HTTP/1.1 100 Continue\r\n\r\n";
                        char got[sizeof want] = "";
                        write_all(fd, data, head_len);
                        size_t n = 0;
                        while (n < sizeof want - 1) {
                                ssize_t k = read(fd, got + n, sizeof want - 1 - n);
                                if (k <= 0)
                                        _exit(4);
                                n += (size_t) k;
                        }
                        if (memcmp(got, want, sizeof want - 1) != 0)
                                _exit(5);
                        write_all(fd, data + head_len, len - head_len);
                        shutdown(fd, SHUT_WR);
                        break;
                }
                }
                _exit(0);
        }
        struct http_limits lim = lim_in;
        uint64_t t0 = http_now_ns();
        if (lim.deadline_ns == 0)
                lim.deadline_ns = t0 + 5 * SEC;
        else
                lim.deadline_ns += t0;
        run->r = http_read_request(run->sv[1], &lim, &run->req, &run->err);
        run->elapsed_ns = http_now_ns() - t0;
}

static int run_finish(struct run *run) {
        int st = 0;
        kill(run->child, SIGKILL);
        waitpid(run->child, &st, 0);
        last_child = -1;
        http_request_done(&run->req);
        close(run->sv[0]);
        close(run->sv[1]);
        /* exit code of a client that was not killed */
        return WIFEXITED(st) ? WEXITSTATUS(st) : 0;
}

static const struct http_limits default_lim = {
        .max_header_bytes = 16384,
        .max_body_bytes = 1 << 20,
};

static void expect_reject(const char *data, size_t len, int r, int status) {
        struct run run;
        run_request(&run, SEND_AND_SHUT, data, len, 0, default_lim);
        if (run.r != r)
                print_error("request %.*s\n", (int) len, data);
        assert_int_equal(run.r, r);
        assert_int_equal(run.err.status, status);
        assert_non_null(run.err.log_status);
        assert_true(run.err.message[0] != 0);
        run_finish(&run);
}

static void test_get(void **state) {
        struct run run;
        run_request(&run, SEND_AND_SHUT, S("GET /health/?x=1 HTTP/1.1\r\nHost: a\r\n\r\n"), 0, default_lim);
        assert_int_equal(run.r, 0);
        assert_string_equal(run.req.method, "GET");
        assert_string_equal(run.req.url, "/health/?x=1");
        assert_string_equal(run.req.path, "/health/");
        assert_null(run.req.content_type);
        assert_int_equal(run.req.body_len, 0);
        assert_int_equal(run.req.http_minor, 1);
        run_finish(&run);
}

static void test_absolute_form(void **state) {
        struct run run;
        run_request(&run, SEND_AND_SHUT, S("GET http://example.com:8080/health/?a=b HTTP/1.1\r\n\r\n"), 0, default_lim);
        assert_int_equal(run.r, 0);
        assert_string_equal(run.req.path, "/health/");
        run_finish(&run);
        run_request(&run, SEND_AND_SHUT, S("OPTIONS HTTPS://example.com HTTP/1.1\r\n\r\n"), 0, default_lim);
        assert_int_equal(run.r, 0);
        assert_string_equal(run.req.path, "/");
        run_finish(&run);
}

static void test_http10(void **state) {
        struct run run;
        run_request(&run, SEND_AND_SHUT, S("POST /x HTTP/1.0\r\nContent-Length: 3\r\nContent-Type: a/b\r\n\r\nabc"),
                    0, default_lim);
        assert_int_equal(run.r, 0);
        assert_int_equal(run.req.http_minor, 0);
        assert_string_equal(run.req.content_type, "a/b");
        assert_int_equal(run.req.body_len, 3);
        assert_memory_equal(run.req.body, "abc", 3);
        run_finish(&run);
}

static void test_content_length_big(void **state) {
        size_t n = 300000;
        char head[128];
        int h = snprintf(head, sizeof head, "POST /x HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", n);
        char *req = malloc((size_t) h + n);
        memcpy(req, head, (size_t) h);
        for (size_t i = 0; i < n; i++)
                req[h + i] = (char) ('a' + i % 26);
        struct run run;
        run_request(&run, SEND_AND_SHUT, req, (size_t) h + n, 0, default_lim);
        assert_int_equal(run.r, 0);
        assert_int_equal(run.req.body_len, n);
        assert_memory_equal(run.req.body, req + h, n);
        assert_int_equal(run.req.body[n], 0);
        run_finish(&run);
        free(req);
}

static void test_chunked(void **state) {
        struct run run;
        run_request(&run, SEND_AND_SHUT,
                    S("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5\r\nhello\r\n1;ext=1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n"),
                    0, default_lim);
        assert_int_equal(run.r, 0);
        assert_int_equal(run.req.body_len, 16);
        assert_memory_equal(run.req.body, "hello 0123456789", 16);
        run_finish(&run);
}

static void test_chunked_many(void **state) {
        /* many chunks so the buffer grows while decoding in place */
        size_t n = 20000;
        char *req = malloc(n * 8 + 100);
        size_t o = (size_t) sprintf(req, "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
        for (size_t i = 0; i < n; i++)
                o += (size_t) sprintf(req + o, "3\r\n%03zu\r\n", i % 1000);
        o += (size_t) sprintf(req + o, "0\r\n\r\n");
        struct run run;
        run_request(&run, SEND_AND_SHUT, req, o, 0, default_lim);
        assert_int_equal(run.r, 0);
        assert_int_equal(run.req.body_len, 3 * n);
        for (size_t i = 0; i < n; i += 997) {
                char want[4];
                snprintf(want, sizeof want, "%03zu", i % 1000);
                assert_memory_equal(run.req.body + 3 * i, want, 3);
        }
        run_finish(&run);
        free(req);
}

static void test_expect_continue(void **state) {
        static const char req[] = "POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nbody";
        struct run run;
        run_request(&run, SEND_EXPECT, S(req), sizeof req - 1 - 4, default_lim);
        assert_int_equal(run.r, 0);
        assert_true(run.req.expect_continue);
        assert_int_equal(run.req.body_len, 4);
        assert_int_equal(run_finish(&run), 0);
}

static void test_expect_continue_too_large(void **state) {
        /* 413 and no "100 Continue": the client must not start sending */
        struct run run;
        run_request(&run, SEND_AND_HOLD,
                    S("POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2000000\r\n\r\n"), 0,
                    default_lim);
        assert_int_equal(run.r, -EFBIG);
        assert_int_equal(run.err.status, 413);
        char buf[64];
        assert_true(recv(run.sv[0], buf, sizeof buf, MSG_DONTWAIT) < 0);
        run_finish(&run);
}

static void test_body_cap_before_reading(void **state) {
        /* no body is ever sent and the connection stays open: answering at
         * all (not 408) shows the cap is checked before reading */
        struct run run;
        struct http_limits lim = default_lim;
        lim.max_body_bytes = 10;
        run_request(&run, SEND_AND_HOLD, S("POST /x HTTP/1.1\r\nContent-Length: 11\r\n\r\n"), 0, lim);
        assert_int_equal(run.r, -EFBIG);
        assert_int_equal(run.err.status, 413);
        assert_string_equal(run.err.log_status, "http.too_large");
        assert_true(run.elapsed_ns < 2 * SEC);
        run_finish(&run);

        run_request(&run, SEND_AND_SHUT, S("POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789"), 0, lim);
        assert_int_equal(run.r, 0);
        run_finish(&run);
}

static void test_chunked_cap(void **state) {
        struct http_limits lim = default_lim;
        lim.max_body_bytes = 10;
        struct run run;
        run_request(&run, SEND_AND_HOLD, S("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n01234\r\n6\r\n"),
                    0, lim);
        assert_int_equal(run.r, -EFBIG);
        assert_int_equal(run.err.status, 413);
        run_finish(&run);

        run_request(&run, SEND_AND_SHUT,
                    S("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n"),
                    0, lim);
        assert_int_equal(run.r, 0);
        assert_int_equal(run.req.body_len, 10);
        run_finish(&run);
}

static void test_smuggling(void **state) {
        expect_reject(S("POST /x HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
                      -EBADMSG, 400);
        expect_reject(S("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n"),
                      -EBADMSG, 400);
        expect_reject(S("POST /x HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"), -EBADMSG, 400);
        expect_reject(S("POST /x HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"), -EBADMSG, 400);
        expect_reject(S("POST /x HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\nabc"), -EBADMSG, 400);
        expect_reject(S("POST /x HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nabc"), -EBADMSG, 400);
        expect_reject(S("POST /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), -EBADMSG, 400);
}

static void test_framing(void **state) {
        /* obs-fold */
        expect_reject(S("GET /x HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n"), -EBADMSG, 400);
        expect_reject(S("GET /x HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n"), -EBADMSG, 400);
        /* bare LF: in headers, at the end, in the request line */
        expect_reject(S("GET /x HTTP/1.1\nHost: a\r\n\r\n"), -EBADMSG, 400);
        expect_reject(S("GET /x HTTP/1.1\r\nHost: a\n\r\n"), -EBADMSG, 400);
        expect_reject(S("GET /x HTTP/1.1\r\nHost: a\r\n\n"), -EBADMSG, 400);
        /* bare CR, NUL, leading empty line, leading space */
        expect_reject(S("GET /x HTTP/1.1\r\nHost: a\rb\r\n\r\n"), -EBADMSG, 400);
        expect_reject("GET /x HTTP/1.1\r\nHost: a\0b\r\n\r\n", 30, -EBADMSG, 400);
        expect_reject(S("\r\nGET /x HTTP/1.1\r\n\r\n"), -EBADMSG, 400);
        expect_reject(S(" GET /x HTTP/1.1\r\n\r\n"), -EBADMSG, 400);
        /* garbage, bad versions, bad method, space in header name */
        expect_reject(S("HELLO\r\n\r\n"), -EBADMSG, 400);
        expect_reject(S("GET /x HTTP/2.0\r\n\r\n"), -EBADMSG, 400);
        expect_reject(S("GET /x HTTP/0.9\r\n\r\n"), -EBADMSG, 400);
        expect_reject(S("FOO /x HTTP/1.1\r\n\r\n"), -EBADMSG, 400);
        expect_reject(S("GET /x HTTP/1.1\r\nHost : a\r\n\r\n"), -EBADMSG, 400);
        /* incomplete */
        expect_reject(S("GET /x HTTP/1.1\r\nHost: a\r\n"), -EBADMSG, 400);
        expect_reject(S("POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"), -EBADMSG, 400);
        expect_reject(S("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"), -EBADMSG, 400);
}

static void test_nothing_sent(void **state) {
        struct run run;
        run_request(&run, SEND_AND_SHUT, "", 0, 0, default_lim);
        assert_int_equal(run.r, -ECONNRESET);
        assert_int_equal(run.err.status, 0);
        run_finish(&run);
}

static void test_header_cap(void **state) {
        struct http_limits lim = default_lim;
        lim.max_header_bytes = 64;
        /* exactly at the cap is fine */
        char ok[65];
        memset(ok, 'a', sizeof ok);
        memcpy(ok, "GET /x HTTP/1.1\r\nX: ", 20);
        memcpy(ok + 60, "\r\n\r\n", 4);
        struct run run;
        run_request(&run, SEND_AND_SHUT, ok, 64, 0, lim);
        assert_int_equal(run.r, 0);
        assert_int_equal(run.req.header_bytes, 64);
        run_finish(&run);

        char big[20000];
        memset(big, 'a', sizeof big);
        memcpy(big, "GET /x HTTP/1.1\r\nX: ", 20);
        run_request(&run, SEND_AND_HOLD, big, sizeof big, 0, default_lim);
        assert_int_equal(run.r, -EMSGSIZE);
        assert_int_equal(run.err.status, 431);
        run_finish(&run);

        /* a huge URL too */
        memcpy(big, "GET /", 5);
        run_request(&run, SEND_AND_HOLD, big, sizeof big, 0, default_lim);
        assert_int_equal(run.err.status, 431);
        run_finish(&run);
}

static void test_timeout(void **state) {
        struct http_limits lim = default_lim;
        lim.deadline_ns = SEC;
        struct run run;
        run_request(&run, SEND_AND_HOLD, S("GET /x HTTP/1.1\r\n"), 0, lim);
        assert_int_equal(run.r, -ETIMEDOUT);
        assert_int_equal(run.err.status, 408);
        assert_string_equal(run.err.log_status, "http.timeout");
        assert_true(run.elapsed_ns >= SEC && run.elapsed_ns < 2 * SEC);
        run_finish(&run);

        /* body never completes */
        run_request(&run, SEND_AND_HOLD, S("POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"), 0, lim);
        assert_int_equal(run.err.status, 408);
        run_finish(&run);
}

static void test_slowloris(void **state) {
        /* a byte every 50 ms keeps the connection "active": the deadline
         * still ends it */
        struct http_limits lim = default_lim;
        lim.deadline_ns = SEC;
        struct run run;
        run_request(&run, SEND_TRICKLE, S("GET /x HTTP/1.1\r\nX-A: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\n"),
                    0, lim);
        assert_int_equal(run.r, -ETIMEDOUT);
        assert_int_equal(run.err.status, 408);
        assert_true(run.elapsed_ns < 2 * SEC);
        run_finish(&run);
}

static void test_pipelined_ignored(void **state) {
        struct run run;
        run_request(&run, SEND_AND_SHUT, S("POST /a HTTP/1.1\r\nContent-Length: 2\r\n\r\nabGET /b HTTP/1.1\r\n\r\n"), 0,
                    default_lim);
        assert_int_equal(run.r, 0);
        assert_string_equal(run.req.path, "/a");
        assert_int_equal(run.req.body_len, 2);
        run_finish(&run);
}

static void test_content_type_last(void **state) {
        struct run run;
        run_request(&run, SEND_AND_SHUT,
                    S("POST /a HTTP/1.1\r\ncontent-type: text/plain\r\nCONTENT-TYPE:  multipart/form-data; boundary=x  \r\n"
                      "Content-Length: 0\r\n\r\n"),
                    0, default_lim);
        assert_int_equal(run.r, 0);
        assert_string_equal(run.req.content_type, "multipart/form-data; boundary=x");
        run_finish(&run);
}

static char *read_all(int fd, size_t *len) {
        size_t cap = 1 << 16, n = 0;
        char *b = malloc(cap + 1);
        for (;;) {
                if (n == cap)
                        b = realloc(b, (cap *= 2) + 1);
                ssize_t k = read(fd, b + n, cap - n);
                if (k <= 0)
                        break;
                n += (size_t) k;
        }
        b[n] = 0;
        *len = n;
        return b;
}

static void test_write_response(void **state) {
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        assert_int_equal(http_write_error(sv[1], 405, "Method not allowed", "Allow: POST\r\n", false, 0), 0);
        close(sv[1]);
        size_t len;
        char *got = read_all(sv[0], &len);
        assert_string_equal(got, "HTTP/1.1 405 Method Not Allowed\r\n"
                                 "Content-Type: application/json\r\n"
                                 "Content-Length: 31\r\n"
                                 "Connection: close\r\n"
                                 "Allow: POST\r\n"
                                 "\r\n"
                                 "{\"error\": \"Method not allowed\"}");
        free(got);
        close(sv[0]);

        /* HEAD: same Content-Length, no body */
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        assert_int_equal(http_write_response(sv[1], 200, NULL, S("{\"a\": 1}"), true, 0), 0);
        close(sv[1]);
        got = read_all(sv[0], &len);
        assert_string_equal(got, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 8\r\n"
                                 "Connection: close\r\n\r\n");
        free(got);
        close(sv[0]);

        /* peer gone: EPIPE, no SIGPIPE */
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        close(sv[0]);
        assert_int_equal(http_write_error(sv[1], 404, "Not found", NULL, false, 0), -EPIPE);
        close(sv[1]);
}

static void test_write_big_short_writes(void **state) {
        /* a body larger than the socket buffer while the peer reads slowly */
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        size_t n = 4 << 20;
        char *body = malloc(n);
        memset(body, 'x', n);
        pid_t pid = fork();
        if (pid == 0) {
                close(sv[1]);
                size_t len;
                usleep(100000);
                char *got = read_all(sv[0], &len);
                char *sep = strstr(got, "\r\n\r\n");
                _exit(sep && len - (size_t) (sep + 4 - got) == n ? 0 : 1);
        }
        close(sv[0]);
        assert_int_equal(http_write_response(sv[1], 200, NULL, body, n, false, http_now_ns() + 10 * SEC), 0);
        close(sv[1]);
        int st;
        waitpid(pid, &st, 0);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        free(body);

        /* a peer that never reads: the deadline ends the write */
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        body = malloc(n);
        memset(body, 'x', n);
        assert_int_equal(http_write_response(sv[1], 200, NULL, body, n, false, http_now_ns() + SEC / 5), -ETIMEDOUT);
        close(sv[0]);
        close(sv[1]);
        free(body);
}

static void test_error_body(void **state) {
        size_t len;
        char *b = http_error_body("q\"b\\s\n\t\x01\x7f \xc3\xa9 \xf0\x9f\x98\x80 \xed\xa0\x80 \xff", &len);
        assert_string_equal(b, "{\"error\": \"q\\\"b\\\\s\\n\\t\\u0001\\u007f \\u00e9 \\ud83d\\ude00 \\ud800 \\ufffd\"}");
        assert_int_equal(len, strlen(b));
        free(b);
}

static void test_media_type(void **state) {
        assert_true(http_media_type_is("application/json", "application/json"));
        assert_true(http_media_type_is(" Application/JSON ; charset=utf-8", "application/json"));
        assert_false(http_media_type_is("application/jsonx", "application/json"));
        assert_false(http_media_type_is(NULL, "application/json"));
        assert_string_equal(http_reason(431), "Request Header Fields Too Large");
}

/* A connected TCP pair on 127.0.0.1: [0] ours, [1] the client's. */
static void tcp_pair(int sv[2]) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof a;
        int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(l >= 0);
        assert_int_equal(bind(l, (struct sockaddr *) &a, sizeof a), 0);
        assert_int_equal(listen(l, 1), 0);
        assert_int_equal(getsockname(l, (struct sockaddr *) &a, &len), 0);
        sv[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_int_equal(connect(sv[1], (struct sockaddr *) &a, sizeof a), 0);
        sv[0] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
        assert_true(sv[0] >= 0);
        close(l);
}

/* What the client reads until the end: its bytes, and whether the end was
 * an EOF (not a reset). */
static size_t read_to_end(int fd, char *buf, size_t size, bool *eof) {
        size_t o = 0;
        for (;;) {
                ssize_t n = recv(fd, buf + o, size - o, 0);
                if (n <= 0) {
                        *eof = n == 0;
                        return o;
                }
                o += (size_t) n;
                assert_true(o < size);
        }
}

/* http_finish(): nothing unread costs one recv() and the client has its
 * EOF at once; input the client sent after its request is read (until its
 * EOF, else the deadline), so that the close resets nothing. */
static void test_finish(void **state) {
        int sv[2];
        char buf[256];
        bool eof = false;

        tcp_pair(sv);
        write_all(sv[0], S("answer"));
        uint64_t t0 = http_now_ns();
        http_finish(sv[0], t0 + 10 * SEC);
        assert_true(http_now_ns() - t0 < 5 * SEC);
        close(sv[0]);
        assert_int_equal(read_to_end(sv[1], buf, sizeof buf, &eof), 6);
        assert_true(eof);
        close(sv[1]);

        /* unread input, then the client's EOF: read up to it */
        tcp_pair(sv);
        write_all(sv[1], S("GET /next HTTP/1.1\r\n\r\n"));
        assert_int_equal(shutdown(sv[1], SHUT_WR), 0);
        write_all(sv[0], S("answer"));
        t0 = http_now_ns();
        http_finish(sv[0], t0 + 10 * SEC);
        assert_true(http_now_ns() - t0 < 5 * SEC);
        assert_int_equal(recv(sv[0], buf, sizeof buf, MSG_DONTWAIT), 0);
        close(sv[0]);
        assert_int_equal(read_to_end(sv[1], buf, sizeof buf, &eof), 6);
        assert_true(eof);
        close(sv[1]);

        /* unread input, a client that stays: read until the deadline */
        tcp_pair(sv);
        write_all(sv[1], S("\r\n"));
        write_all(sv[0], S("answer"));
        t0 = http_now_ns();
        http_finish(sv[0], t0 + SEC / 5);
        assert_true(http_now_ns() - t0 >= SEC / 5);
        assert_int_equal(recv(sv[0], buf, sizeof buf, MSG_DONTWAIT), -1);
        assert_int_equal(errno, EAGAIN);
        close(sv[0]);
        assert_int_equal(read_to_end(sv[1], buf, sizeof buf, &eof), 6);
        assert_true(eof);
        close(sv[1]);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_get),
                cmocka_unit_test(test_absolute_form),
                cmocka_unit_test(test_http10),
                cmocka_unit_test(test_content_length_big),
                cmocka_unit_test(test_chunked),
                cmocka_unit_test(test_chunked_many),
                cmocka_unit_test(test_expect_continue),
                cmocka_unit_test(test_expect_continue_too_large),
                cmocka_unit_test(test_body_cap_before_reading),
                cmocka_unit_test(test_chunked_cap),
                cmocka_unit_test(test_smuggling),
                cmocka_unit_test(test_framing),
                cmocka_unit_test(test_nothing_sent),
                cmocka_unit_test(test_header_cap),
                cmocka_unit_test(test_timeout),
                cmocka_unit_test(test_slowloris),
                cmocka_unit_test(test_pipelined_ignored),
                cmocka_unit_test(test_content_type_last),
                cmocka_unit_test(test_write_response),
                cmocka_unit_test(test_write_big_short_writes),
                cmocka_unit_test(test_error_body),
                cmocka_unit_test(test_media_type),
                cmocka_unit_test(test_finish),
        };
        signal(SIGPIPE, SIG_DFL); /* prove MSG_NOSIGNAL: a SIGPIPE would kill us */
        return cmocka_run_group_tests(tests, NULL, NULL);
}
