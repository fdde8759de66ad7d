/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: one whole connection through server_handle() -- HTTP reader,
 * routing, form selection, the codejail-service(7) "API" checks, safe_exec's stdin
 * building and output merge, response writing -- with the jail replaced by a stand-in
 * whose "stdout" is the submitted code itself (so the fuzzer also controls
 * the jailed program's output) and logging replaced by formatting without
 * output. Both stand-ins are defined here, so the archive never links
 * jail.o or log.o into this harness.
 * Input: byte 0 = record size (as fuzz-http); the rest is the request.
 * Checks: exactly one well-formed response (status line, our headers,
 * Content-Length matching the body) or none at all. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "jail.h"
#include "log.h"
#include "server.h"

/* ---- stand-ins ---- */
void log_set_target_stderr(int yes) { (void) yes; }
void log_prepare(void) {}
void log_fieldf(struct log_field *f, const char *key, const char *fmt, ...) {
        va_list ap;
        f->key = key;
        va_start(ap, fmt);
        vsnprintf(f->value, sizeof f->value, fmt, ap);
        va_end(ap);
}
void log_struct(int prio, const struct log_field *fields, size_t n, const char *fmt, ...) {
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        for (size_t i = 0; i < n; i++)
                if (!fields[i].key || memchr(fields[i].value, 0, sizeof fields[i].value) == NULL)
                        abort();
}
void log_msg(int prio, const char *fmt, ...) {
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
}
unsigned jail_sabotaged_layers(void) { return 0; }
int jail_isolate_self_network(const struct config *cfg) { return 0; }
int jail_isolate_self_uts_ipc(void) { return 0; }

/* stdin is json.dumps([code, globals]): the code string's own bytes are not
 * easy to get back, so the stand-in emits the decoded first element. */
#include "pyjson.h"
int jail_run(const struct config *cfg, const struct jail_request *req, struct jail_result *res,
             struct jail_error *err) {
        struct pyjson_error e;
        json_t *in = pyjson_loads(req->stdin_data, req->stdin_len, 100000, &e);
        if (!in || !json_is_array(in) || json_array_size(in) != 2 || !json_is_string(json_array_get(in, 0)))
                abort(); /* the service built a stdin it cannot read back */
        const char *code = json_string_value(json_array_get(in, 0));
        size_t n = json_string_length(json_array_get(in, 0));
        memset(res, 0, sizeof *res);
        /* "!..." : the program failed (status 1) with that stdout/stderr */
        res->status = n > 0 && code[0] == '!' ? 1 : 0;
        res->out = malloc(n + 1);
        memcpy(res->out, code, n + 1);
        res->out_len = n;
        res->err = strdup("Traceback: \xff'\"\\");
        res->err_len = strlen(res->err);
        res->uid = 1u << 30;
        json_decref(in);
        return 0;
}
void jail_result_release(struct jail_result *res) {}
void jail_result_done(struct jail_result *res) {
        free(res->out);
        free(res->err);
        res->out = res->err = NULL;
}
/* No preparation here: privsep.c then calls jail_run(), the stand-in. */
struct jail_prep *jail_prepare(const struct config *c) { return NULL; }
void jail_prep_stop_on(struct jail_prep *p, int fd) {}
int jail_run_prepared(struct jail_prep *p, const struct jail_request *req, struct jail_result *res,
                      struct jail_error *err) {
        abort();
}
void jail_prep_free(struct jail_prep *p) {}

/* ---- harness ---- */
static struct config *cfg;
static char state_dir[] = "/tmp/cj-fuzz-server.XXXXXX";

static void remove_state_dir(void) {
        char path[600];
        snprintf(path, sizeof path, "%s/health.json", state_dir);
        unlink(path);
        rmdir(state_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        char *dir = mkdtemp(state_dir);
        if (!dir)
                abort();
        atexit(remove_state_dir);
        char conf[512];
        int k = snprintf(conf, sizeof conf,
                         "{\"enabled\": true, \"state_dir\": \"%s\", \"max_request_bytes\": 4096, "
                         "\"limit_overrides\": {\"c\": {\"CPU\": 1}}}", dir);
        char err[256];
        if (config_parse(conf, (size_t) k, &cfg, err, sizeof err) < 0)
                abort();
        char path[600];
        snprintf(path, sizeof path, "%s/health.json", dir);
        FILE *f = fopen(path, "w");
        /* far in the future is refused; now, refreshed never: max age 900 s
         * is plenty for a smoke run */
        fprintf(f, "{\"status\": \"OK\", \"timestamp\": %lld, \"checks\": []}", (long long) time(NULL));
        fclose(f);
        return 0;
}

static void check_response(const char *r, size_t n) {
        if (n == 0)
                return;
        if (n < 17 || memcmp(r, "HTTP/1.1 ", 9) != 0)
                abort();
        const char *end = memmem(r, n, "\r\n\r\n", 4);
        if (!end)
                abort();
        size_t hl = (size_t) (end + 2 - r); /* the head with its last CRLF */
        if (!memmem(r, hl, "\r\nContent-Type: application/json\r\n", 34) ||
            !memmem(r, hl, "\r\nConnection: close\r\n", 21))
                abort();
        const char *cl = memmem(r, hl, "\r\nContent-Length: ", 18);
        if (!cl)
                abort();
        unsigned long len = strtoul(cl + 18, NULL, 10);
        bool head = false; /* HEAD answers carry the length but no body */
        size_t body = n - (size_t) (end + 4 - r);
        if (body != len && !(head = body == 0))
                abort();
        if (!head && len > 0 && end[4] != '{')
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1 || size > 60000)
                return 0;
        size_t rec = data[0] ? data[0] : size;
        data++, size--;
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                abort();
        int big = 1 << 20;
        setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
        setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
        setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
        setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
        for (size_t off = 0; off < size;) {
                size_t n = size - off < rec ? size - off : rec;
                if (send(sv[1], data + off, n, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t) n)
                        break;
                off += n;
        }
        shutdown(sv[1], SHUT_WR);
        (void) server_handle(cfg, NULL, sv[0]);
        close(sv[0]);

        static char resp[4 << 20];
        size_t got = 0;
        for (;;) {
                ssize_t k = recv(sv[1], resp + got, sizeof resp - got, MSG_DONTWAIT);
                if (k <= 0)
                        break;
                got += (size_t) k;
        }
        /* skip an interim 100 Continue */
        const char *r = resp;
        if (got >= 25 && memcmp(r, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0)
                r += 25, got -= 25;
        if (getenv("FUZZ_SERVER_DEBUG"))
                fprintf(stderr, "response: %.*s\n", (int) got, r);
        check_response(r, got);
        close(sv[1]);
        return 0;
}
