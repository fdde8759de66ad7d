/* SPDX-License-Identifier: Apache-2.0 */
/* server.c driven over a socketpair: routing, the rejections, checks 1..3
 * of codejail-service(7) "API" (the jail is never reached), health, and one log entry per
 * request (captured from the stderr fallback). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
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

#include "admit.h"
#include "conf.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "privsep.h"
#include "server.h"
#include "slurp.h"

#define S(x) (x), (sizeof(x) - 1)
#define SEC UINT64_C(1000000000)

/* SEND_THEN_LEAVE: send, wait 300 ms, close (a client giving up). */
enum client_mode { SEND_AND_SHUT, SEND_AND_HOLD, SEND_EXPECT, SEND_THEN_LEAVE };

struct result {
        int r;
        int status;
        char *resp;     /* whole response as received */
        size_t resp_len;
        char *body;     /* into resp */
        char *log;      /* stderr log lines */
        int log_entries;
        bool saw_continue;
        uint64_t elapsed_ns;
};

static char state_dir[64];
static pid_t last_child = -1;

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

static char *read_fd(int fd, size_t *len) {
        size_t cap = 4096, n = 0;
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

static void result_done(struct result *res) {
        free(res->resp);
        free(res->log);
        memset(res, 0, sizeof *res);
}

static void serve(const struct config *cfg, const char *cfg_error, enum client_mode mode, const char *req,
                  size_t len, size_t head_len, struct result *res) {
        int sv[2];
        memset(res, 0, sizeof *res);
        if (last_child > 0) {
                kill(last_child, SIGKILL);
                waitpid(last_child, NULL, 0);
        }
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        pid_t pid = last_child = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                alarm(20);
                close(sv[1]);
                if (mode == SEND_EXPECT) {
                        static const char want[] = "HTTP/1.1 100 Continue\r\n\r\n";
                        char got[sizeof want] = "";
                        size_t n = 0;
                        write_all(sv[0], req, head_len);
                        while (n < sizeof want - 1) {
                                ssize_t k = read(sv[0], got + n, sizeof want - 1 - n);
                                if (k <= 0)
                                        _exit(4);
                                n += (size_t) k;
                        }
                        if (memcmp(got, want, sizeof want - 1) != 0)
                                _exit(5);
                        write_all(sv[0], req + head_len, len - head_len);
                        shutdown(sv[0], SHUT_WR);
                        _exit(0);
                }
                write_all(sv[0], req, len);
                if (mode == SEND_AND_SHUT)
                        shutdown(sv[0], SHUT_WR);
                if (mode == SEND_THEN_LEAVE) {
                        struct timespec ts = { 0, 300 * 1000000 };
                        nanosleep(&ts, NULL);
                        _exit(0);
                }
                pause();
                _exit(0);
        }

        /* A leaving client: only its copy of the socket may keep it open. */
        if (mode == SEND_THEN_LEAVE) {
                close(sv[0]);
                sv[0] = -1;
        }

        /* capture the log: one line per entry in the stderr fallback */
        FILE *tmp = tmpfile();
        assert_non_null(tmp);
        int saved = dup(STDERR_FILENO);
        fflush(stderr);
        dup2(fileno(tmp), STDERR_FILENO);
        uint64_t t0 = http_now_ns();
        res->r = server_handle(cfg, cfg_error, sv[1]);
        res->elapsed_ns = http_now_ns() - t0;
        fflush(stderr);
        dup2(saved, STDERR_FILENO);
        close(saved);
        rewind(tmp);
        size_t loglen;
        res->log = read_fd(fileno(tmp), &loglen);
        fclose(tmp);
        for (const char *p = res->log; (p = strstr(p, "CODEJAIL_STATUS=")); p++)
                res->log_entries++;

        close(sv[1]);
        if (mode == SEND_EXPECT) {
                int st;
                waitpid(pid, &st, 0);
                last_child = -1;
                res->saw_continue = WIFEXITED(st) && WEXITSTATUS(st) == 0;
        }
        if (sv[0] >= 0) {
                res->resp = read_fd(sv[0], &res->resp_len);
                close(sv[0]);
        } else
                res->resp = calloc(1, 1);
        if (last_child > 0) {
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                last_child = -1;
        }
        /* The probe a half-closed client is asked (admit.h) goes first. */
        for (char *end; strncmp(res->resp, "HTTP/1.1 1", 10) == 0 && (end = strstr(res->resp, "\r\n\r\n"));) {
                res->resp_len -= (size_t)(end + 4 - res->resp);
                memmove(res->resp, end + 4, res->resp_len + 1);
        }
        if (res->resp_len > 12 && strncmp(res->resp, "HTTP/1.1 ", 9) == 0)
                res->status = atoi(res->resp + 9);
        char *sep = strstr(res->resp, "\r\n\r\n");
        res->body = sep ? sep + 4 : NULL;
}

/* Every answer has exactly these framing headers. */
static void check_framing(const struct result *res) {
        assert_non_null(res->body);
        assert_non_null(strstr(res->resp, "\r\nContent-Type: application/json\r\n"));
        assert_non_null(strstr(res->resp, "\r\nConnection: close\r\n"));
        char cl[64];
        const char *p = strstr(res->resp, "\r\nContent-Length: ");
        assert_non_null(p);
        snprintf(cl, sizeof cl, "%.20s", p + 18);
        (void) cl;
}

static void check_answer(const struct result *res, int status, const char *body, const char *log_status) {
        if (res->status != status)
                fail_msg("status %d, expected %d; response:\n%s\nlog:\n%s", res->status, status, res->resp, res->log);
        check_framing(res);
        if (body)
                assert_string_equal(res->body, body);
        size_t cl = (size_t) strtoul(strstr(res->resp, "\r\nContent-Length: ") + 18, NULL, 10);
        assert_int_equal(cl, strlen(res->body));
        assert_int_equal(res->log_entries, 1);
        char want[128];
        snprintf(want, sizeof want, "CODEJAIL_STATUS=%s ", log_status);
        if (!strstr(res->log, want))
                fail_msg("log lacks %s:\n%s", want, res->log);
        snprintf(want, sizeof want, "HTTP_STATUS=%d", status);
        assert_non_null(strstr(res->log, want));
}

static struct config *new_config(bool enabled, bool healthy) {
        struct config *c;
        assert_int_equal(config_new_default(&c), 0);
        c->enabled = enabled;
        free(c->state_dir);
        c->state_dir = strdup(state_dir);
        char path[128];
        snprintf(path, sizeof path, "%s/health.json", state_dir);
        unlink(path);
        if (healthy) {
                FILE *f = fopen(path, "w");
                assert_non_null(f);
                fprintf(f, "{\"status\": \"OK\", \"timestamp\": %lld, \"layers\": {\"seccomp\": true}}\n",
                        (long long) time(NULL));
                fclose(f);
        }
        return c;
}

static void test_not_found(void **state) {
        struct config *c = new_config(false, false);
        struct result res;
        serve(c, NULL, SEND_AND_SHUT, S("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"), 0, &res);
        assert_int_equal(res.r, 0);
        assert_string_equal(res.resp, "HTTP/1.1 404 Not Found\r\n"
                                      "Content-Type: application/json\r\n"
                                      "Content-Length: 22\r\n"
                                      "Connection: close\r\n"
                                      "\r\n"
                                      "{\"error\": \"Not found\"}");
        check_answer(&res, 404, NULL, "http.not_found");
        assert_non_null(strstr(res.log, "HTTP_PATH=/nope"));
        assert_non_null(strstr(res.log, "HTTP_METHOD=GET"));
        assert_non_null(strstr(res.log, "REMOTE_ADDR=unix"));
        result_done(&res);

        /* HEAD: same headers, no body */
        serve(c, NULL, SEND_AND_SHUT, S("HEAD /api/v0/code-exec/ HTTP/1.1\r\n\r\n"), 0, &res);
        assert_string_equal(res.resp, "HTTP/1.1 404 Not Found\r\n"
                                      "Content-Type: application/json\r\n"
                                      "Content-Length: 22\r\n"
                                      "Connection: close\r\n"
                                      "\r\n");
        result_done(&res);
        config_free(c);
}

static void test_method_not_allowed(void **state) {
        struct config *c = new_config(false, false);
        struct result res;
        serve(c, NULL, SEND_AND_SHUT, S("GET /api/v0/code-exec HTTP/1.1\r\n\r\n"), 0, &res);
        check_answer(&res, 405, "{\"error\": \"Method not allowed\"}", "http.method_not_allowed");
        assert_non_null(strstr(res.resp, "\r\nAllow: POST\r\n"));
        result_done(&res);

        serve(c, NULL, SEND_AND_SHUT, S("POST /health/ HTTP/1.1\r\nContent-Length: 0\r\n\r\n"), 0, &res);
        check_answer(&res, 405, NULL, "http.method_not_allowed");
        assert_non_null(strstr(res.resp, "\r\nAllow: GET, HEAD\r\n"));
        result_done(&res);

        serve(c, NULL, SEND_AND_SHUT, S("DELETE /health HTTP/1.1\r\n\r\n"), 0, &res);
        check_answer(&res, 405, NULL, "http.method_not_allowed");
        result_done(&res);
        config_free(c);
}

static void test_disabled(void **state) {
        struct config *c = new_config(false, true);
        struct result res;
        serve(c, NULL, SEND_AND_SHUT,
              S("POST /api/v0/code-exec HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                "Content-Length: 9\r\n\r\npayload=1"),
              0, &res);
        check_answer(&res, 500, "{\"error\": \"Codejail service not enabled\"}", "disabled.feature_switch");
        result_done(&res);
        config_free(c);
}

static void test_no_config(void **state) {
        struct result res;
        serve(NULL, "codejail.json: unknown key 'foo'", SEND_AND_SHUT,
              S("POST /api/v0/code-exec HTTP/1.1\r\nContent-Length: 0\r\n\r\n"), 0, &res);
        check_answer(&res, 500, "{\"error\": \"Codejail service is not correctly configured\"}",
                     "disabled.config_invalid");
        assert_non_null(strstr(res.log, "CODEJAIL_CONFIG_ERROR=codejail.json: unknown key 'foo'"));
        result_done(&res);

        serve(NULL, "bad", SEND_AND_SHUT, S("GET /health/ HTTP/1.1\r\n\r\n"), 0, &res);
        check_answer(&res, 503, NULL, "health.unavailable");
        assert_true(strncmp(res.body, "{\"status\": \"UNAVAILABLE\"", 24) == 0);
        result_done(&res);
}

static void test_unhealthy(void **state) {
        struct config *c = new_config(true, false);
        struct result res;
        serve(c, NULL, SEND_AND_SHUT,
              S("POST /api/v0/code-exec HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                "Content-Length: 9\r\n\r\npayload=1"),
              0, &res);
        check_answer(&res, 500, "{\"error\": \"Codejail service is not correctly configured\"}",
                     "disabled.safety_checks_failed");
        result_done(&res);

        serve(c, NULL, SEND_AND_SHUT, S("GET /health/ HTTP/1.1\r\n\r\n"), 0, &res);
        check_answer(&res, 503, NULL, "health.unavailable");
        assert_true(strncmp(res.body, "{\"status\": \"UNAVAILABLE\"", 24) == 0);
        result_done(&res);
        config_free(c);
}

static void test_health(void **state) {
        struct config *c = new_config(false, true);
        struct result res;
        serve(c, NULL, SEND_AND_SHUT, S("GET /health/ HTTP/1.1\r\n\r\n"), 0, &res);
        check_answer(&res, 200, NULL, "health.ok");
        if (strncmp(res.body, "{\"status\": \"OK\", \"timestamp\": ", 30) != 0)
                fail_msg("body: %s", res.body);
        assert_non_null(strstr(res.body, "\"layers\": {\"seccomp\": true}"));
        result_done(&res);

        serve(c, NULL, SEND_AND_SHUT, S("HEAD /health HTTP/1.0\r\n\r\n"), 0, &res);
        assert_int_equal(res.status, 200);
        assert_string_equal(res.body, "");
        assert_true(strtoul(strstr(res.resp, "Content-Length: ") + 16, NULL, 10) > 20);
        result_done(&res);
        config_free(c);
}

/* GET/HEAD /metrics: 503 without counters or configuration, 404 when
 * metrics_route is off, else the exposition, which counts itself. */
static void test_metrics_route(void **state) {
        struct config *c = new_config(true, true);
        struct result res;
        serve(c, NULL, SEND_AND_SHUT, S("GET /metrics HTTP/1.1\r\n\r\n"), 0, &res);
        check_answer(&res, 503, "{\"error\": \"Metrics unavailable\"}", "metrics.unavailable");
        result_done(&res);
        serve(NULL, "broken", SEND_AND_SHUT, S("GET /metrics HTTP/1.1\r\n\r\n"), 0, &res);
        check_answer(&res, 503, NULL, "metrics.unavailable");
        result_done(&res);

        assert_int_equal(metrics_open(state_dir, METRICS_INSTANCE), 0);
        c->metrics_route = false;
        serve(c, NULL, SEND_AND_SHUT, S("GET /metrics HTTP/1.1\r\n\r\n"), 0, &res);
        check_answer(&res, 404, NULL, "http.not_found");
        result_done(&res);
        c->metrics_route = true;
        serve(c, NULL, SEND_AND_SHUT, S("POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n"), 0, &res);
        check_answer(&res, 405, NULL, "http.method_not_allowed");
        assert_non_null(strstr(res.resp, "\r\nAllow: GET, HEAD\r\n"));
        result_done(&res);

        long long before = -1, after = -1;
        for (int i = 0; i < 2; i++) {
                serve(c, NULL, SEND_AND_SHUT, S("GET /metrics HTTP/1.1\r\n\r\n"), 0, &res);
                assert_int_equal(res.status, 200);
                assert_non_null(strstr(res.resp, "\r\nContent-Type: " METRICS_CONTENT_TYPE "\r\n"));
                assert_non_null(strstr(res.resp, "\r\nConnection: close\r\n"));
                size_t cl = (size_t)strtoul(strstr(res.resp, "\r\nContent-Length: ") + 18, NULL, 10);
                assert_int_equal(cl, strlen(res.body));
                assert_int_equal(res.log_entries, 1);
                assert_non_null(strstr(res.log, "CODEJAIL_STATUS=metrics.ok "));
                const char *p = strstr(res.body, "codejail_requests_total{code=\"200\",status=\"metrics.ok\"} ");
                assert_non_null(p);
                *(i ? &after : &before) = strtoll(p + strlen("codejail_requests_total{code=\"200\",status=\"metrics.ok\"} "), NULL, 10);
                result_done(&res);
        }
        assert_int_equal(after, before + 1);
        serve(c, NULL, SEND_AND_SHUT, S("HEAD /metrics HTTP/1.1\r\n\r\n"), 0, &res);
        assert_int_equal(res.status, 200);
        assert_string_equal(res.body, "");
        assert_true(strtoul(strstr(res.resp, "Content-Length: ") + 16, NULL, 10) > 1000);
        result_done(&res);
        config_free(c);
}

static void test_media_type_and_form(void **state) {
        struct config *c = new_config(true, true);
        struct result res;
        serve(c, NULL, SEND_AND_SHUT,
              S("POST /api/v0/code-exec HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"), 0,
              &res);
        check_answer(&res, 415, NULL, "http.unsupported_media_type");
        assert_non_null(strstr(res.body, "Unsupported media type 'application/json'"));
        result_done(&res);

        /* check 3, urlencoded and multipart (a file named payload is no field) */
        serve(c, NULL, SEND_AND_SHUT,
              S("POST /api/v0/code-exec HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                "Content-Length: 7\r\n\r\nother=1"),
              0, &res);
        check_answer(&res, 400, "{\"error\": \"Missing 'payload' parameter in POST body\"}", "invalid.payload.missing");
        result_done(&res);

        serve(c, NULL, SEND_AND_SHUT,
              S("POST /api/v0/code-exec HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                "Content-Length: 73\r\n\r\n"
                "--b\r\nContent-Disposition: form-data; name=payload; filename=p\r\n\r\n1\r\n--b--"),
              0, &res);
        check_answer(&res, 400, "{\"error\": \"Missing 'payload' parameter in POST body\"}", "invalid.payload.missing");
        result_done(&res);

        /* no Content-Type and no body: an empty form */
        serve(c, NULL, SEND_AND_SHUT, S("POST /api/v0/code-exec HTTP/1.1\r\nContent-Length: 0\r\n\r\n"), 0, &res);
        check_answer(&res, 400, NULL, "invalid.payload.missing");
        result_done(&res);

        serve(c, NULL, SEND_AND_SHUT,
              S("POST /api/v0/code-exec HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                "Content-Length: 10\r\n\r\n--b\r\nxx\r\n\r\n"),
              0, &res);
        check_answer(&res, 400, NULL, "invalid.form");
        assert_non_null(strstr(res.body, "Malformed form data: "));
        result_done(&res);

        /* check 4 comes from payload.c: only the status and the prefix here */
        serve(c, NULL, SEND_AND_SHUT,
              S("POST /api/v0/code-exec HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                "Content-Length: 11\r\n\r\npayload=%7B"),
              0, &res);
        assert_int_equal(res.status, 400);
        assert_non_null(strstr(res.body, "Unable to parse payload JSON: "));
        assert_int_equal(res.log_entries, 1);
        assert_non_null(strstr(res.log, "CODEJAIL_STATUS=invalid.payload.bad_json "));
        result_done(&res);
        config_free(c);
}

/* Upstream's cap on the form fields other than files (Django's
 * DATA_UPLOAD_MAX_MEMORY_SIZE: an urlencoded body by its raw length,
 * multipart fields as value + name + 2 each, repeated fields too),
 * answered as Django answers RequestDataTooBig: 400, "Bad Request (400)"
 * -- in JSON here. Files do not count. */
static void test_form_data_cap(void **state) {
        struct config *c = new_config(true, true);
        struct result res;
        char req[4096], val[512];
        c->max_form_data_bytes = 100;

        /* urlencoded: "payload=" + 92 = 100 raw bytes: at the cap, on to
         * check 4; escapes count as sent (30 x "%41" decode to 30 bytes) */
        memset(val, 'x', sizeof val);
        for (int i = 0; i < 90; i += 3)
                memcpy(val + 200 + i, "%41", 3);
        static const int starts[] = { 0, 200 };
        for (size_t s = 0; s < ELEMENTSOF(starts); s++)
                for (int n = 92; n <= 93; n++) {
                        int k = snprintf(req, sizeof req,
                                         "POST /api/v0/code-exec HTTP/1.1\r\n"
                                         "Content-Type: application/x-www-form-urlencoded\r\n"
                                         "Content-Length: %d\r\n\r\npayload=%.*s", 8 + n, n, val + starts[s]);
                        serve(c, NULL, SEND_AND_SHUT, req, (size_t) k, 0, &res);
                        if (n == 92)
                                check_answer(&res, 400, NULL, "invalid.payload.bad_json");
                        else {
                                check_answer(&res, 400, "{\"error\": \"Bad Request (400)\"}",
                                             "invalid.form_too_large");
                                assert_non_null(strstr(res.log, "form fields other than files: 101 bytes"));
                        }
                        result_done(&res);
                }

        /* multipart: a file of any size does not count, the field does */
        memset(val, 'z', sizeof val);
        static const char part[] = "--b\r\nContent-Disposition: form-data; name=\"%s\"%s\r\n\r\n%.*s\r\n";
        char body[3000];
        int bl = snprintf(body, sizeof body, part, "python_lib.zip", "; filename=\"python_lib.zip\"", 500, val);
        bl += snprintf(body + bl, sizeof body - (size_t) bl, part, "payload", "", 91, val);
        bl += snprintf(body + bl, sizeof body - (size_t) bl, "--b--\r\n");
        int k = snprintf(req, sizeof req,
                         "POST /api/v0/code-exec HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                         "Content-Length: %d\r\n\r\n%s", bl, body);
        serve(c, NULL, SEND_AND_SHUT, req, (size_t) k, 0, &res);
        check_answer(&res, 400, NULL, "invalid.payload.bad_json");
        result_done(&res);

        /* a repeated field counts each time, though the last one wins */
        bl = snprintf(body, sizeof body, part, "payload", "", 50, val);
        bl += snprintf(body + bl, sizeof body - (size_t) bl, part, "payload", "", 50, val);
        bl += snprintf(body + bl, sizeof body - (size_t) bl, "--b--\r\n");
        k = snprintf(req, sizeof req,
                     "POST /api/v0/code-exec HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                     "Content-Length: %d\r\n\r\n%s", bl, body);
        serve(c, NULL, SEND_AND_SHUT, req, (size_t) k, 0, &res);
        check_answer(&res, 400, "{\"error\": \"Bad Request (400)\"}", "invalid.form_too_large");
        result_done(&res);

        /* the shipped default is Django's: 2.5 MiB */
        struct config *d;
        assert_int_equal(config_new_default(&d), 0);
        assert_int_equal(d->max_form_data_bytes, 2621440);
        config_free(d);
        config_free(c);
}

static void test_body_cap(void **state) {
        struct config *c = new_config(false, false);
        c->max_request_bytes = 100;
        struct result res;
        /* no body follows and the client keeps the connection: an answer
         * at all proves the cap is checked before reading */
        serve(c, NULL, SEND_AND_HOLD, S("POST /api/v0/code-exec HTTP/1.1\r\nContent-Length: 101\r\n\r\n"), 0, &res);
        check_answer(&res, 413, NULL, "http.too_large");
        assert_true(res.elapsed_ns < 3 * SEC);
        result_done(&res);

        serve(c, NULL, SEND_AND_SHUT,
              S("POST /api/v0/code-exec HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n"), 0, &res);
        result_done(&res);
        config_free(c);
}

static void test_header_cap(void **state) {
        struct config *c = new_config(false, false);
        struct result res;
        size_t n = 17 * 1024;
        char *req = malloc(n);
        memset(req, 'a', n);
        memcpy(req, "GET /health/ HTTP/1.1\r\nX-Big: ", 30);
        serve(c, NULL, SEND_AND_HOLD, req, n, 0, &res);
        check_answer(&res, 431, NULL, "http.header_too_large");
        result_done(&res);
        free(req);
        config_free(c);
}

static void test_timeout(void **state) {
        struct config *c = new_config(false, false);
        c->request_timeout_s = 1;
        struct result res;
        serve(c, NULL, SEND_AND_HOLD, S("POST /api/v0/code-exec HTTP/1.1\r\nContent-Length: 5\r\n\r\nab"), 0, &res);
        check_answer(&res, 408, "{\"error\": \"Request timeout\"}", "http.timeout");
        assert_true(res.elapsed_ns >= SEC && res.elapsed_ns < 3 * SEC);
        result_done(&res);
        config_free(c);
}

static void test_chunked_and_expect(void **state) {
        struct config *c = new_config(false, false);
        struct result res;
        serve(c, NULL, SEND_AND_SHUT,
              S("POST /api/v0/code-exec HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n\r\n"
                "4\r\npayl\r\n5\r\noad=1\r\n0\r\n\r\n"),
              0, &res);
        check_answer(&res, 500, "{\"error\": \"Codejail service not enabled\"}", "disabled.feature_switch");
        assert_non_null(strstr(res.log, "CODEJAIL_BODY_BYTES=9"));
        result_done(&res);

        static const char req[] = "POST /api/v0/code-exec HTTP/1.1\r\nExpect: 100-continue\r\n"
                                  "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 9\r\n\r\npayload=1";
        serve(c, NULL, SEND_EXPECT, S(req), sizeof req - 1 - 9, &res);
        assert_true(res.saw_continue);
        check_answer(&res, 500, NULL, "disabled.feature_switch");
        result_done(&res);
        config_free(c);
}

static void test_bad_requests(void **state) {
        static const char *const reqs[] = {
                "POST /api/v0/code-exec HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                "POST /api/v0/code-exec HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na",
                "GET /health/ HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
                "GET /health/ HTTP/1.1\nHost: a\n\n",
                "GET /health/ HTTP/1.1\r\nHost: a\r\n",
                "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        };
        struct config *c = new_config(false, false);
        for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
                struct result res;
                serve(c, NULL, SEND_AND_SHUT, reqs[i], strlen(reqs[i]), 0, &res);
                check_answer(&res, 400, NULL, "http.bad_request");
                assert_true(strncmp(res.body, "{\"error\": \"Bad request: ", 23) == 0);
                result_done(&res);
        }
        config_free(c);
}

static void test_no_request(void **state) {
        struct config *c = new_config(false, false);
        struct result res;
        serve(c, NULL, SEND_AND_SHUT, "", 0, 0, &res);
        assert_int_equal(res.r, 0);
        assert_int_equal(res.resp_len, 0);
        assert_int_equal(res.log_entries, 1);
        assert_non_null(strstr(res.log, "CODEJAIL_STATUS=http.no_request"));
        result_done(&res);
        config_free(c);
}

/* What main() does with the socket it was handed: found, made
 * close-on-exec, served in two processes. */
static void test_server_connection_fd(void **state) {
        /* no LISTEN_FDS and stdin not a socket: refused */
        int saved = dup(STDIN_FILENO);
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        dup2(null, STDIN_FILENO);
        close(null);
        unsetenv("LISTEN_FDS");
        unsetenv("LISTEN_PID");
        FILE *tmp = tmpfile();
        int saved_err = dup(STDERR_FILENO);
        dup2(fileno(tmp), STDERR_FILENO);
        assert_int_equal(server_connection_fd(), -ENOTSOCK);

        /* inetd style: the connection on fd 0 */
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        static const char req[] = "GET /nope HTTP/1.1\r\n\r\n";
        assert_int_equal(write(sv[0], req, sizeof req - 1), (ssize_t) (sizeof req - 1));
        shutdown(sv[0], SHUT_WR);
        dup2(sv[1], STDIN_FILENO);
        close(sv[1]);
        assert_int_equal(server_connection_fd(), STDIN_FILENO);
        assert_true(fcntl(STDIN_FILENO, F_GETFD) & FD_CLOEXEC);
        assert_int_equal(privsep_serve(NULL, "x", STDIN_FILENO), 0);
        dup2(saved, STDIN_FILENO);
        close(saved);
        dup2(saved_err, STDERR_FILENO);
        close(saved_err);
        fclose(tmp);
        size_t len;
        char *resp = read_fd(sv[0], &len);
        assert_true(strncmp(resp, "HTTP/1.1 404 ", 13) == 0);
        free(resp);
        close(sv[0]);
}

#define X_PLUS_1 "payload=%7B%22code%22%3A+%22x+%3D+x+%2B+1%22%2C+%22globals_dict%22%3A+%7B%22x%22%3A+16%7D%7D"
#define POST_X_PLUS_1                                                                           \
        "POST /api/v0/code-exec HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n" \
        "Content-Length: 92\r\n\r\n" X_PLUS_1

/* Admission control: with every slot taken, a valid code-exec
 * waits queue_timeout_s and gets a 503 with Retry-After (the jail is never
 * reached); a client that leaves while queued gets nothing and is logged;
 * rejections and /health/ never wait. */
static void test_queue(void **state) {
        struct config *c = new_config(true, true);
        struct result res;
        char lock[128];
        uint64_t waited;
        struct admit_ticket held = ADMIT_TICKET_NULL;
        assert_int_equal(strlen(X_PLUS_1), 92);
        c->max_concurrent_executions = 1;
        c->queue_timeout_s = 1;
        snprintf(lock, sizeof lock, "%s/admission.lock", state_dir);
        assert_int_equal(admit_enter(lock, 1, 0, 0, NULL, &held, &waited), 0);

        /* A client that keeps its side open, and one that half-closes
         * after the request (only timed, never taken for gone). */
        for (int mode = SEND_AND_HOLD; mode >= SEND_AND_SHUT; mode--) {
                serve(c, NULL, (enum client_mode) mode, S(POST_X_PLUS_1), 0, &res);
                check_answer(&res, 503,
                             "{\"error\": \"Codejail service is busy: no execution slot became free within 1 s\"}",
                             "queue.timeout");
                assert_non_null(strstr(res.resp, "\r\nRetry-After: 1\r\n"));
                assert_non_null(strstr(res.log, " CODEJAIL_QUEUE_MS=1"));
                assert_null(strstr(res.log, "CODEJAIL_SANDBOX_UID"));
                /* at least the timeout; the bound above is only "no hang" */
                if (!(res.elapsed_ns >= SEC && res.elapsed_ns < 6 * SEC))
                        fail_msg("mode %d: answered after %llu ms", mode, (unsigned long long) (res.elapsed_ns / 1000000));
                result_done(&res);
        }

        /* queue_timeout_s 0: no waiting at all. */
        c->queue_timeout_s = 0;
        serve(c, NULL, SEND_AND_HOLD, S(POST_X_PLUS_1), 0, &res);
        check_answer(&res, 503, NULL, "queue.timeout");
        assert_non_null(strstr(res.resp, "\r\nRetry-After: 1\r\n"));
        assert_true(res.elapsed_ns < SEC / 2);
        result_done(&res);

        /* A slug and a context with a NUL are logged whole: the NUL is a
         * byte like the others ('?'), not where the name ends. */
        serve(c, NULL, SEND_AND_HOLD,
              S("POST /api/v0/code-exec HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                "Content-Length: 146\r\n\r\npayload=%7B%22code%22%3A%22%22%2C%22globals_dict%22%3A%7B%7D%2C%22slug%22%3A"
                "%22a%5Cu0000b%22%2C%22limit_overrides_context%22%3A%22c%5Cu0000d%22%7D"),
              0, &res);
        check_answer(&res, 503, NULL, "queue.timeout");
        assert_non_null(strstr(res.log, " CODEJAIL_SLUG=a?b "));
        assert_non_null(strstr(res.log, " CODEJAIL_LIMITS_CONTEXT=c?d "));
        result_done(&res);

        /* The client gives up after 300 ms: no answer, no execution. */
        c->queue_timeout_s = 10;
        serve(c, NULL, SEND_THEN_LEAVE, S(POST_X_PLUS_1), 0, &res);
        assert_int_equal(res.r, 0);
        assert_int_equal(res.resp_len, 0);
        assert_int_equal(res.log_entries, 1);
        assert_non_null(strstr(res.log, "CODEJAIL_STATUS=queue.client_gone "));
        assert_non_null(strstr(res.log, "HTTP_STATUS=0"));
        assert_non_null(strstr(res.log, " CODEJAIL_QUEUE_MS="));
        assert_null(strstr(res.log, "CODEJAIL_SANDBOX_UID"));
        assert_true(res.elapsed_ns < 2 * SEC);
        result_done(&res);

        /* Only requests that passed checks 1-8 queue. */
        serve(c, NULL, SEND_AND_HOLD, S("GET /health/ HTTP/1.1\r\n\r\n"), 0, &res);
        check_answer(&res, 200, NULL, "health.ok");
        assert_true(res.elapsed_ns < SEC);
        result_done(&res);
        serve(c, NULL, SEND_AND_HOLD,
              S("POST /api/v0/code-exec HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                "Content-Length: 9\r\n\r\npayload=1"),
              0, &res);
        check_answer(&res, 400, NULL, "invalid.payload.schema_mismatch");
        assert_null(strstr(res.log, "CODEJAIL_QUEUE_MS"));
        assert_true(res.elapsed_ns < SEC);
        result_done(&res);

        /* An unusable state dir: 500, not an execution without admission. */
        admit_leave(&held);
        free(c->state_dir);
        c->state_dir = strdup("/nonexistent/state");
        serve(c, NULL, SEND_AND_HOLD, S(POST_X_PLUS_1), 0, &res);
        /* (health.json is not there either: check 2 answers first) */
        check_answer(&res, 500, NULL, "disabled.safety_checks_failed");
        result_done(&res);
        unlink(lock);
        config_free(c);
}

static int setup(void **state) {
        snprintf(state_dir, sizeof state_dir, "/tmp/test-server-XXXXXX");
        assert_non_null(mkdtemp(state_dir));
        log_set_target_stderr(1);
        return 0;
}

static int teardown(void **state) {
        char path[128];
        snprintf(path, sizeof path, "%s/health.json", state_dir);
        unlink(path);
        rmdir(state_dir);
        return 0;
}

static char *slurp_data(const char *name) {
        char path[256];
        snprintf(path, sizeof path, "%s/auth/%s", TEST_DATA_DIR, name);
        char *buf = slurp(path);
        assert_non_null(buf);
        return buf;
}

/* With jwt_jwks_file set, code-exec needs the LMS's JWT; a
 * refusal is a 401 with WWW-Authenticate, answered from the head (the
 * body is never read, 100 Continue never promised); /health/ stays open. */
static void test_auth(void **state) {
        struct config *c = new_config(true, true);
        char err[256];
        char *jwks = slurp_data("jwks.json");
        assert_int_equal(auth_keys_parse(jwks, strlen(jwks), &c->jwt.keys, err, sizeof err), 0);
        free(jwks);
        c->jwt_jwks_file = strdup("lms-jwks.json");
        c->jwt.issuers = calloc(1, sizeof(char *));
        c->jwt.issuers[0] = strdup("https://lms.example.com/oauth2");
        c->jwt.n_issuers = 1;
        c->jwt.audiences = calloc(1, sizeof(char *));
        c->jwt.audiences[0] = strdup("codejail-test");
        c->jwt.n_audiences = 1;
        c->jwt.usernames = calloc(1, sizeof(char *));
        c->jwt.usernames[0] = strdup("codejail_worker");
        c->jwt.n_usernames = 1;
        struct result res;
        char req[16384];
        static const char body[] = "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 9\r\n\r\npayload=1";

        serve(c, NULL, SEND_AND_HOLD, S("POST /api/v0/code-exec HTTP/1.1\r\nHost: x\r\n"
                                        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 9\r\n\r\n"
                                        "payload=1"), 0, &res);
        check_answer(&res, 401, "{\"error\": \"Authentication credentials were not provided.\"}", "auth.missing");
        assert_non_null(strstr(res.resp, "\r\nWWW-Authenticate: JWT realm=\"codejail-service\"\r\n"));
        assert_non_null(strstr(res.resp, "HTTP/1.1 401 Unauthorized\r\n"));
        assert_non_null(strstr(res.log, "CODEJAIL_BODY_BYTES=0"));
        assert_null(strstr(res.log, "CODEJAIL_AUTH_ISSUER"));
        result_done(&res);

        /* Refused before 100 Continue: the client never sends its body. */
        int n = snprintf(req, sizeof req, "POST /api/v0/code-exec HTTP/1.1\r\nExpect: 100-continue\r\n%s", body);
        serve(c, NULL, SEND_EXPECT, req, (size_t)n, (size_t)n - 9, &res);
        assert_false(res.saw_continue);
        /* (the client read the status line, looking for 100 Continue) */
        assert_non_null(strstr(res.log, "CODEJAIL_STATUS=auth.missing "));
        assert_non_null(strstr(res.log, "HTTP_STATUS=401 "));
        assert_non_null(strstr(res.log, "CODEJAIL_BODY_BYTES=0"));
        result_done(&res);

        static const struct {
                const char *file, *reason;
        } refused[] = {
                { "expired/authorization", "expired" },
                { "alg-none/authorization", "alg none not accepted" },
                { "hs256-public-pem/authorization", "alg HS256 not accepted" },
                { "wrong-key/authorization", "bad signature" },
                { "unknown-kid/authorization", "unknown kid lms-1999" },
                { "bearer-scheme/authorization", "Authorization scheme is not JWT" },
                { "oversized/authorization", "token longer than 8192 bytes" },
        };
        for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
                char *value = slurp_data(refused[i].file);
                n = snprintf(req, sizeof req, "POST /api/v0/code-exec HTTP/1.1\r\nAuthorization: %s\r\n%s", value, body);
                assert_true(n > 0 && (size_t)n < sizeof req);
                serve(c, NULL, SEND_AND_HOLD, req, (size_t)n, 0, &res);
                char want[256];
                snprintf(want, sizeof want, "{\"error\": \"Invalid JWT: %s\"}", refused[i].reason);
                check_answer(&res, 401, want, "auth.invalid");
                assert_non_null(strstr(res.resp, "\r\nWWW-Authenticate: JWT realm=\"codejail-service\", "
                                                 "error=\"invalid_token\"\r\n"));
                assert_non_null(strstr(res.log, refused[i].reason));
                assert_non_null(strstr(res.log, "CODEJAIL_BODY_BYTES=0"));
                /* Never the token, not even its start. */
                char start[31];
                snprintf(start, sizeof start, "%s", strchr(value, ' ') + 1);
                assert_null(strstr(res.log, start));
                result_done(&res);
                free(value);
        }

        /* Valid: check 0 passes, the caller is logged, checks 1.. follow
         * (here check 5: the payload 1 is not an object). */
        char *good = slurp_data("ok-long-lived/authorization");
        n = snprintf(req, sizeof req, "POST /api/v0/code-exec HTTP/1.1\r\nAuthorization: %s\r\n%s", good, body);
        serve(c, NULL, SEND_AND_SHUT, req, (size_t)n, 0, &res);
        check_answer(&res, 400, NULL, "invalid.payload.schema_mismatch");
        assert_non_null(strstr(res.log, "CODEJAIL_AUTH_ISSUER=https://lms.example.com/oauth2 "));
        assert_non_null(strstr(res.log, "CODEJAIL_AUTH_SUBJECT=c0ffee42 "));
        assert_non_null(strstr(res.log, "CODEJAIL_AUTH_USERNAME=codejail_worker"));
        assert_null(strstr(res.log, strrchr(good, '.') + 1));
        result_done(&res);

        /* Two Authorization headers: which one counts is ambiguous. */
        n = snprintf(req, sizeof req, "POST /api/v0/code-exec HTTP/1.1\r\nAuthorization: %s\r\nAuthorization: %s\r\n%s",
                     good, good, body);
        serve(c, NULL, SEND_AND_HOLD, req, (size_t)n, 0, &res);
        check_answer(&res, 401, "{\"error\": \"Invalid JWT: 2 Authorization headers\"}", "auth.invalid");
        result_done(&res);
        free(good);

        /* Load balancers poll /health/ without a token. */
        serve(c, NULL, SEND_AND_SHUT, S("GET /health/ HTTP/1.1\r\n\r\n"), 0, &res);
        check_answer(&res, 200, NULL, "health.ok");
        result_done(&res);
        config_free(c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_not_found),
                cmocka_unit_test(test_method_not_allowed),
                cmocka_unit_test(test_disabled),
                cmocka_unit_test(test_no_config),
                cmocka_unit_test(test_unhealthy),
                cmocka_unit_test(test_health),
                cmocka_unit_test(test_metrics_route),
                cmocka_unit_test(test_media_type_and_form),
                cmocka_unit_test(test_form_data_cap), cmocka_unit_test(test_body_cap),
                cmocka_unit_test(test_header_cap),
                cmocka_unit_test(test_timeout),
                cmocka_unit_test(test_chunked_and_expect),
                cmocka_unit_test(test_bad_requests),
                cmocka_unit_test(test_no_request),
                cmocka_unit_test(test_server_connection_fd),
                cmocka_unit_test(test_queue),
                cmocka_unit_test(test_auth),
        };
        signal(SIGPIPE, SIG_DFL);
        return cmocka_run_group_tests(tests, setup, teardown);
}
