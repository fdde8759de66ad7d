/* SPDX-License-Identifier: Apache-2.0 */
/* One connection: read the request (http.c), route it, run the checks of
 * codejail-service(7) "API" in order, answer, and log exactly one journald entry.
 *
 * Decisions upstream does not dictate (codejail-service(7) "HTTP" and "API" state them):
 *  - cfg == NULL (the config failed to load): code-exec answers 500 "Codejail
 *    service is not correctly configured" (CODEJAIL_STATUS
 *    disabled.config_invalid) before check 1, since whether the service is
 *    enabled is unknown; /health answers 503. The load error is logged,
 *    never sent to the client.
 *  - the body's media type is checked after checks 1 and 2 (a disabled or
 *    unhealthy service says so whatever the body), then the form is parsed;
 *    a POST without Content-Type and without body is an empty form
 *    (-> check 3), like Django. Malformed forms are 400 "Malformed form data:
 *    <detail>" (invalid.form).
 *  - a set-up failure of the jail is 500 "Codejail service is not correctly
 *    configured" with CODEJAIL_STATUS error.jail_setup and the failed step.
 *
 * CODEJAIL_STATUS values of our own, beside upstream's vocabulary:
 *   http.no_request            connection closed before any byte (no answer)
 *   http.io_error              read/write failure (no answer possible)
 *   http.bad_request           400: unparsable HTTP
 *   http.timeout               408: request not complete within request_timeout_s
 *   http.too_large             413: body over max_request_bytes
 *   http.header_too_large      431: head over max_header_bytes
 *   http.not_found             404
 *   http.method_not_allowed    405
 *   http.unsupported_media_type 415
 *   http.internal_error        500: out of memory and the like
 *   invalid.form               400: malformed multipart/urlencoded body
 *   invalid.form_too_large     400 "Bad Request (400)": the fields other than
 *                              files over max_form_data_bytes (upstream:
 *                              Django's RequestDataTooBig)
 *   disabled.config_invalid    500: no usable configuration
 *   error.jail_setup           500: the jail could not be set up
 *   error.queue                500: admission control failed (the lock file)
 *   queue.timeout              503 + Retry-After: no execution slot became
 *                              free within queue_timeout_s
 *   queue.client_gone          the client hung up while its request waited
 *                              for a slot (no answer, no execution)
 *   stopped.client_gone        the client hung up while its program ran: the
 *                              execution was stopped at once (no answer)
 *   auth.missing               401: code-exec without an Authorization header
 *                              while jwt_jwks_file is set
 *   auth.invalid               401: a token that does not pass auth_check()
 *                              (the reason is logged, never the token)
 *   health.ok / health.unavailable   GET/HEAD /health/ -> 200 / 503
 *   metrics.ok / metrics.unavailable GET/HEAD /metrics -> 200 / 503 (no
 *                              configuration, or no counters: metrics.c)
 *
 * Authentication (check 0 of codejail-service(7) "API") runs from http.c's on_head hook:
 * once the head is in, before "100 Continue" and before a byte of the body
 * is read, so an unauthenticated client costs one head and no jail. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <malloc.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "admit.h"
#include "auth.h"
#include "form.h"
#include "health.h"
#include "http.h"
#include "jail.h"
#include "jsondoc.h"
#include "log.h"
#include "macro.h"
#include "metrics.h"
#include "payload.h"
#include "pyjson.h"
#include "safeexec.h"
#include "sdproto.h"
#include "server.h"

#define DEFAULT_TIMEOUT_S 10
#define DEFAULT_MAX_HEADER_BYTES (16u * 1024u)
#define DEFAULT_MAX_REQUEST_BYTES (32u * 1024u * 1024u)
/* Time granted to write a rejection, and to drain what the client still
 * sends after any answer, so it reads our answer instead of a RST. */
#define REJECT_WRITE_S 2
#define LINGER_S 1

#define MSG_NOT_CONFIGURED "Codejail service is not correctly configured"

#define PATH_CODE_EXEC "/api/v0/code-exec"

struct exchange {
        const struct config *cfg;
        const char *config_error;
        int fd;
        const struct safeexec_runner *runner; /* NULL: the jail in-process */
        uint64_t t0;
        struct http_limits limits;
        /* The peer, read when the connection arrives: once the client has
         * hung up, getpeername() no longer knows it (ENOTCONN). */
        char addr[INET6_ADDRSTRLEN + 130], port[8];

        struct http_request req;
        bool have_req;
        bool head_only;

        int status; /* 0: nothing answered */
        bool answer_lost; /* an answer was due and could not be written */
        const char *log_status;
        char detail[256];

        /* check 0: who the verified caller is, or why it was refused */
        bool authenticated;
        struct auth_caller caller;
        int auth_r; /* auth_check()'s return when it refused the head */
        struct auth_error auth_err;

        /* code-exec details, when known */
        bool have_payload;
        char slug[128], context[128];
        size_t n_files, n_python_path;
        char code_sha256[65];
        bool queued; /* reached admission control: queue_ms is meaningful */
        uint64_t complete_ns; /* when the request was in and checked (http_now_ns) */
        struct admit_client client; /* watched while it waits and runs */
        uint64_t queue_ms;
        bool have_jail;
        struct jail_result jail; /* numbers only: out/err stay with safeexec */
        char limit_hit[32];

        /* The execution in progress and its slot, until end_execution(). */
        struct safeexec_outcome *outcome;
        struct admit_ticket *ticket;
};

/* Log values from the client: printable ASCII only, bounded. */
static void sanitize(char *dst, size_t size, const char *src) {
        size_t o = 0;
        for (; src && *src && o + 1 < size; src++)
                dst[o++] = ((unsigned char) *src >= 0x20 && (unsigned char) *src < 0x7f) ? *src : '?';
        dst[o] = 0;
}

/* The same for a JSON string of len bytes: a NUL among them is a byte
 * like the others ('?'), not its end. */
static void sanitize_n(char *dst, size_t size, const char *src, size_t len) {
        size_t o = 0;
        for (size_t i = 0; src && i < len && o + 1 < size; i++)
                dst[o++] = ((unsigned char) src[i] >= 0x20 && (unsigned char) src[i] < 0x7f) ? src[i] : '?';
        dst[o] = 0;
}

static void remote_addr(int fd, char *buf, size_t size, char *port, size_t psize) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;

        snprintf(buf, size, "unknown");
        port[0] = 0;
        if (getpeername(fd, (struct sockaddr *) &ss, &len) < 0)
                return;
        if (ss.ss_family == AF_INET) {
                const struct sockaddr_in *in = (const struct sockaddr_in *) &ss;
                inet_ntop(AF_INET, &in->sin_addr, buf, (socklen_t) size);
                snprintf(port, psize, "%u", ntohs(in->sin_port));
        } else if (ss.ss_family == AF_INET6) {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) &ss;
                if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
                        inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], buf, (socklen_t) size);
                else
                        inet_ntop(AF_INET6, &in6->sin6_addr, buf, (socklen_t) size);
                snprintf(port, psize, "%u", ntohs(in6->sin6_port));
        } else if (ss.ss_family == AF_UNIX) {
                const struct sockaddr_un *un = (const struct sockaddr_un *) &ss;
                size_t plen = len > offsetof(struct sockaddr_un, sun_path)
                                      ? len - offsetof(struct sockaddr_un, sun_path)
                                      : 0;
                if (plen == 0 || un->sun_path[0] == 0)
                        snprintf(buf, size, "unix");
                else {
                        char path[sizeof un->sun_path + 1];
                        memcpy(path, un->sun_path, plen < sizeof un->sun_path ? plen : sizeof un->sun_path);
                        path[plen < sizeof un->sun_path ? plen : sizeof un->sun_path] = 0;
                        char clean[120];
                        sanitize(clean, sizeof clean, path);
                        snprintf(buf, size, "unix:%s", clean);
                }
        } else
                snprintf(buf, size, "family-%d", ss.ss_family);
}

/* Opened by server_prepare() for a process that may not open files when
 * it logs (privsep.c), or -1. */
static int status_fd = -1, admission_fd = -1, admission_err;

/* VmHWM of /proc/self/status in KiB, or -1. */
static long self_peak_rss_kb(void) {
        char buf[2048];
        _cleanup_close_ int own = status_fd < 0 ? open("/proc/self/status", O_RDONLY | O_CLOEXEC) : -1;
        int fd = status_fd >= 0 ? status_fd : own;
        if (fd < 0)
                return -1;
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        if (n <= 0)
                return -1;
        buf[n] = '\0';
        const char *p = strstr(buf, "\nVmHWM:");
        return p ? strtol(p + 8, NULL, 10) : -1;
}

static long long startup_cpu_us = -1;
/* The CPU of the process this one was forked from, until the fork
 * (server_mark_split): counted in, so the total stays the instance's. */
static long long inherited_cpu_us;

static long long process_cpu_us(void) {
        struct timespec ts;
        if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) < 0)
                return -1;
        return (long long) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void server_mark_process_start(void) {
        startup_cpu_us = process_cpu_us();
}

void server_mark_split(long long parent_cpu_us) {
        if (parent_cpu_us > 0)
                inherited_cpu_us = parent_cpu_us;
}

void server_use_admission(int fd) {
        if (admission_fd >= 0)
                close(admission_fd);
        admission_fd = fd;
}

int server_prepare(const struct config *cfg) {
        char lock_path[300]; /* state_dir: < 256 (conf.c) */
        log_prepare();
        if (status_fd < 0)
                status_fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
        if (!cfg)
                return 0;
        health_preload(cfg);
        /* Its failure is answered by GET /metrics (metrics.unavailable). */
        (void)metrics_open(cfg->state_dir, METRICS_INSTANCE);
        if (SABOTAGED(LAYER_ADMISSION) || admission_fd >= 0)
                return 0;
        snprintf(lock_path, sizeof lock_path, "%s/admission.lock", cfg->state_dir);
        admission_fd = admit_open(lock_path);
        if (admission_fd < 0)
                admission_err = -admission_fd;
        return 0;
}

static void log_exchange(struct exchange *x) {
        struct log_field f[32];
        size_t n = 0;
        const char *addr = x->addr, *port = x->port;
        char method[24] = "-", path[128] = "-";

        if (x->have_req) {
                sanitize(method, sizeof method, x->req.method);
                sanitize(path, sizeof path, x->req.path);
        }
        uint64_t us = (http_now_ns() - x->t0) / 1000, ms = us / 1000;

        log_fieldf(&f[n++], "CODEJAIL_STATUS", "%s", x->log_status ? x->log_status : "unknown");
        log_fieldf(&f[n++], "REMOTE_ADDR", "%s", addr);
        if (port[0])
                log_fieldf(&f[n++], "REMOTE_PORT", "%s", port);
        log_fieldf(&f[n++], "HTTP_METHOD", "%s", method);
        log_fieldf(&f[n++], "HTTP_PATH", "%s", path);
        log_fieldf(&f[n++], "HTTP_STATUS", "%d", x->status);
        log_fieldf(&f[n++], "CODEJAIL_REQUEST_MS", "%llu", (unsigned long long) ms);
        /* The instance's own cost (never the jailed child's): operators size
         * hosts by it, and the benchmark reads it. Peak RSS is this image's
         * VmHWM: ru_maxrss carries over the forking parent's peak across
         * execve (under systemd, the service manager's). CPU comes from the
         * same clock as the start-up figure, so the two subtract. */
        struct rusage self;
        long hwm = self_peak_rss_kb();
        if (hwm < 0 && getrusage(RUSAGE_SELF, &self) == 0)
                hwm = self.ru_maxrss;
        if (hwm >= 0)
                log_fieldf(&f[n++], "CODEJAIL_SERVICE_MAXRSS_KB", "%ld", hwm);
        long long cpu_us = process_cpu_us();
        if (cpu_us >= 0)
                cpu_us += inherited_cpu_us;
        if (cpu_us >= 0)
                log_fieldf(&f[n++], "CODEJAIL_SERVICE_CPU_US", "%lld", cpu_us);
        if (startup_cpu_us >= 0)
                log_fieldf(&f[n++], "CODEJAIL_SERVICE_STARTUP_CPU_US", "%lld", startup_cpu_us);
        if (x->have_req)
                log_fieldf(&f[n++], "CODEJAIL_BODY_BYTES", "%zu", x->req.body_len);
        if (x->authenticated) {
                log_fieldf(&f[n++], "CODEJAIL_AUTH_ISSUER", "%s", x->caller.issuer);
                log_fieldf(&f[n++], "CODEJAIL_AUTH_SUBJECT", "%s", x->caller.subject);
                if (x->caller.username[0])
                        log_fieldf(&f[n++], "CODEJAIL_AUTH_USERNAME", "%s", x->caller.username);
        }
        if (x->have_payload) {
                log_fieldf(&f[n++], "CODEJAIL_SLUG", "%s", x->slug);
                log_fieldf(&f[n++], "CODEJAIL_LIMITS_CONTEXT", "%s", x->context);
                log_fieldf(&f[n++], "CODEJAIL_FILES_COUNT", "%zu", x->n_files);
                log_fieldf(&f[n++], "CODEJAIL_PYTHON_PATH_LEN", "%zu", x->n_python_path);
                log_fieldf(&f[n++], "CODEJAIL_CODE_SHA256", "%s", x->code_sha256);
        }
        if (x->queued)
                log_fieldf(&f[n++], "CODEJAIL_QUEUE_MS", "%llu", (unsigned long long) x->queue_ms);
        if (x->have_jail) {
                const struct jail_result *j = &x->jail;
                log_fieldf(&f[n++], "CODEJAIL_SANDBOX_UID", "%u", (unsigned) j->uid);
                log_fieldf(&f[n++], "CODEJAIL_EXIT_STATUS", "%d", j->status);
                log_fieldf(&f[n++], "CODEJAIL_DURATION_MS", "%llu", (unsigned long long) j->duration_ms);
                log_fieldf(&f[n++], "CODEJAIL_CPU_MS", "%llu", (unsigned long long) j->cpu_ms);
                log_fieldf(&f[n++], "CODEJAIL_MAXRSS_KB", "%llu", (unsigned long long) j->maxrss_kb);
                if (j->paused_ms)
                        log_fieldf(&f[n++], "CODEJAIL_PAUSED_MS", "%llu", (unsigned long long) j->paused_ms);
                log_fieldf(&f[n++], "CODEJAIL_LIMIT_HIT", "%s", x->limit_hit);
                /* The AppArmor label the program ran under, as its init read
                 * it from the kernel: proof the sandbox profile was in force. */
                if (j->apparmor_label[0])
                        log_fieldf(&f[n++], "CODEJAIL_APPARMOR_LABEL", "%s", j->apparmor_label);
        }
        if (!x->cfg && x->config_error)
                log_fieldf(&f[n++], "CODEJAIL_CONFIG_ERROR", "%s", x->config_error);

        int prio = x->status >= 500                      ? LOG_LEVEL_ERR
                   : x->status == 0 || x->status == 401 ? LOG_LEVEL_NOTICE
                                                        : LOG_LEVEL_INFO;
        log_struct(prio, f, n, "%s %s -> %d %s%s%s", method, path, x->status,
                   x->log_status ? x->log_status : "unknown", x->detail[0] ? ": " : "", x->detail);
        /* The same outcome, into the host's counters (metrics.h). */
        metrics_count(&(struct metrics_outcome){
                .status = x->log_status,
                .http_status = x->status,
                .path = x->have_req ? x->req.path : NULL,
                .request_us = us,
                .queued = x->queued,
                .queue_ms = x->queue_ms,
                .executed = x->have_jail,
                .execution_ms = x->jail.duration_ms,
                .limit_hit = x->have_jail ? x->limit_hit : NULL,
                .paused_ms = x->have_jail ? x->jail.paused_ms : 0,
                .answer_lost = x->answer_lost,
        });
}

/* The write deadline: a fresh budget, not what is left of the request's. */
static uint64_t write_deadline(const struct exchange *x, int seconds) {
        return http_now_ns() + (uint64_t) seconds * UINT64_C(1000000000);
}

static int request_timeout_s(const struct exchange *x) {
        return x->cfg && x->cfg->request_timeout_s > 0 ? x->cfg->request_timeout_s : DEFAULT_TIMEOUT_S;
}

static void reply_error(struct exchange *x, int status, const char *log_status, const char *message,
                        const char *extra_headers) {
        x->status = status;
        x->log_status = log_status;
        int r = http_write_error(x->fd, status, message, extra_headers, x->head_only,
                                 write_deadline(x, request_timeout_s(x)));
        x->answer_lost = r < 0;
        if (r < 0 && !x->detail[0])
                snprintf(x->detail, sizeof x->detail, "writing the response: %s", strerror(-r));
}

static void reply_json(struct exchange *x, int status, const char *log_status, const json_t *v) {
        size_t len = 0;
        _cleanup_free_ char *body = pyjson_dumps(v, &len);
        if (!body) {
                snprintf(x->detail, sizeof x->detail, "serializing the response failed");
                reply_error(x, 500, "http.internal_error", "Internal error", NULL);
                return;
        }
        x->status = status;
        x->log_status = log_status;
        int r = http_write_response(x->fd, status, NULL, body, len, x->head_only,
                                    write_deadline(x, request_timeout_s(x)));
        x->answer_lost = r < 0;
        if (r < 0)
                snprintf(x->detail, sizeof x->detail, "writing the response: %s", strerror(-r));
}

/* GET/HEAD /metrics: the host's counters and the state now (metrics.h). */
static void handle_metrics(struct exchange *x) {
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r = x->cfg ? metrics_render(x->cfg, admission_fd, &text, &len) : -ENOENT;
        if (r < 0) {
                snprintf(x->detail, sizeof x->detail, "%s: %s",
                         x->cfg ? "the counters in state_dir" : "no configuration", strerror(-r));
                reply_error(x, 503, "metrics.unavailable", "Metrics unavailable", NULL);
                return;
        }
        x->status = 200;
        x->log_status = "metrics.ok";
        r = http_write_typed(x->fd, 200, METRICS_CONTENT_TYPE, NULL, text, len, x->head_only,
                             write_deadline(x, request_timeout_s(x)));
        x->answer_lost = r < 0;
        if (r < 0)
                snprintf(x->detail, sizeof x->detail, "writing the response: %s", strerror(-r));
}

static void handle_health(struct exchange *x) {
        json_auto_t *state = NULL;
        bool ok = x->cfg && health_ok(x->cfg, &state);
        json_auto_t *o = json_object();
        if (!o || json_object_set_new(o, "status", json_string(ok ? "OK" : "UNAVAILABLE")) < 0) {
                reply_error(x, 500, "http.internal_error", "Internal error", NULL);
                return;
        }
        if (json_is_object(state)) {
                const char *k;
                json_t *v;
                json_object_foreach(state, k, v)
                        if (strcmp(k, "status") != 0)
                                json_object_set(o, k, v);
        } else if (!x->cfg)
                json_object_set_new(o, "error", json_string("configuration could not be loaded"));
        else
                json_object_set_new(o, "error", json_string("no health state: run codejaild --selfcheck"));
        reply_json(x, ok ? 200 : 503, ok ? "health.ok" : "health.unavailable", o);
}

/* Upstream's Django refuses form fields other than files past
 * DATA_UPLOAD_MAX_MEMORY_SIZE (RequestDataTooBig, a 400 with its "Bad
 * Request (400)" page): counted as form.h's field_bytes says, before the
 * payload is parsed, so what a waiting request holds is bounded by this,
 * not only by the body cap. */
static int reply_form_too_large(struct exchange *x, uint64_t bytes) {
        snprintf(x->detail, sizeof x->detail,
                 "form fields other than files: %llu bytes, over max_form_data_bytes (%llu)",
                 (unsigned long long) bytes, (unsigned long long) x->cfg->max_form_data_bytes);
        reply_error(x, 400, "invalid.form_too_large", "Bad Request (400)", NULL);
        return -EFBIG;
}

static int parse_body(struct exchange *x, struct form *form) {
        char boundary[72], err[160] = "";
        const char *ct = x->req.content_type;
        int r;

        switch (form_content_type(ct, boundary, sizeof boundary)) {
        case FORM_URLENCODED:
                /* Django refuses an urlencoded body by its raw length before
                 * it parses it. */
                if (x->req.body_len > x->cfg->max_form_data_bytes)
                        return reply_form_too_large(x, x->req.body_len);
                /* In place too: the form is the body, not a second copy. */
                r = form_parse_urlencoded_inplace(x->req.body, x->req.body_len, form, err, sizeof err);
                break;
        case FORM_MULTIPART:
                /* In place: an uploaded file stays one copy (the body). */
                r = form_parse_multipart_inplace(x->req.body, x->req.body_len, boundary, form, err, sizeof err);
                break;
        default:
                if (!ct && x->req.body_len == 0)
                        return 0; /* an empty form */
                char clean[100], msg[200];
                sanitize(clean, sizeof clean, ct ? ct : "");
                snprintf(msg, sizeof msg,
                         "Unsupported media type '%s': use multipart/form-data or "
                         "application/x-www-form-urlencoded",
                         clean);
                reply_error(x, 415, "http.unsupported_media_type", msg, NULL);
                return -EMEDIUMTYPE;
        }
        if (r == -EINVAL) {
                char msg[220];
                snprintf(msg, sizeof msg, "Malformed form data: %s", err);
                reply_error(x, 400, "invalid.form", msg, NULL);
                return r;
        }
        if (r < 0) {
                snprintf(x->detail, sizeof x->detail, "parsing the form: %s", strerror(-r));
                reply_error(x, 500, "http.internal_error", "Internal error", NULL);
                return r;
        }
        if (form->field_bytes > x->cfg->max_form_data_bytes)
                return reply_form_too_large(x, form->field_bytes);
        return 0;
}

/* Admission control (src/admit.c): wait for one of the host's
 * execution slots. Returns 0 with the slot in *ticket, or answers (503,
 * 500) or, for a client that hung up, only records why, and returns -errno. */
static int admit(struct exchange *x, struct admit_ticket *ticket) {
        const struct config *cfg = x->cfg;
        char lock_path[300]; /* state_dir: < 256 (conf.c) */

        if (SABOTAGED(LAYER_ADMISSION))
                return 0;
        snprintf(lock_path, sizeof lock_path, "%s/admission.lock", cfg->state_dir);
        int r;
        if (admission_err)
                r = -admission_err; /* server_prepare() could not open it */
        else if (admission_fd >= 0)
                r = admit_enter_fd(TAKE_FD(admission_fd), cfg->max_concurrent_executions,
                                   cfg->max_starting_executions, (uint64_t)cfg->queue_timeout_s * 1000, &x->client,
                                   ticket, &x->queue_ms);
        else
                r = admit_enter(lock_path, cfg->max_concurrent_executions, cfg->max_starting_executions,
                                (uint64_t)cfg->queue_timeout_s * 1000, &x->client, ticket, &x->queue_ms);
        x->queued = true;
        if (r >= 0)
                return 0;
        if (r == -ETIMEDOUT) {
                char msg[160], retry[48];
                snprintf(msg, sizeof msg, "Codejail service is busy: no execution slot became free within %d s",
                         cfg->queue_timeout_s);
                /* The queue was at least this long; sooner adds to it. */
                snprintf(retry, sizeof retry, "Retry-After: %d\r\n", cfg->queue_timeout_s > 0 ? cfg->queue_timeout_s : 1);
                snprintf(x->detail, sizeof x->detail, "all %u execution slots taken for %llu ms",
                         cfg->max_concurrent_executions, (unsigned long long) x->queue_ms);
                reply_error(x, 503, "queue.timeout", msg, retry);
        } else if (r == -ECONNABORTED) {
                x->log_status = "queue.client_gone";
                snprintf(x->detail, sizeof x->detail, "the client hung up after %llu ms in the queue; not executed",
                         (unsigned long long) x->queue_ms);
        } else {
                snprintf(x->detail, sizeof x->detail, "admission control: %.150s: %s", lock_path, strerror(-r));
                reply_error(x, 500, "error.queue", MSG_NOT_CONFIGURED, NULL);
        }
        return r;
}

/* The execution is over (its program was reaped, its output is
 * complete): end what it holds on the host -- its jail, torn down, then
 * its slot, which the next in line takes. After the answer when that went
 * out at once (the client need not share the CPU with the teardown), else
 * as soon as writing it would wait: a client that does not read holds its
 * own instance until the write deadline, never a slot. Kept apart so that
 * other ways an execution can end (a client gone while it runs) can call
 * it too. */
static void end_execution(struct exchange *x) {
        if (x->outcome)
                safeexec_release(x->outcome);
        x->outcome = NULL;
        if (x->ticket)
                admit_leave(x->ticket);
        x->ticket = NULL;
}

static void end_execution_hook(void *userdata) {
        end_execution(userdata);
}

/* The answer, written as it is produced (safeexec_write): first counted
 * for its Content-Length, then sent in pieces. It is never held whole: an
 * emsg quoting 8 MiB of output is ~40 MiB of JSON. */
struct answer {
        struct exchange *x;
        char head[1024];
        size_t head_len;
        bool head_sent;
        uint64_t deadline;
        struct http_on_block on_block;
};

static int answer_flush(void *userdata, const char *p, size_t n) {
        struct answer *a = userdata;
        struct iovec iov[2];
        size_t k = 0;
        if (!a->head_sent)
                iov[k++] = (struct iovec) { .iov_base = a->head, .iov_len = a->head_len };
        a->head_sent = true;
        iov[k++] = (struct iovec) { .iov_base = (void *) p, .iov_len = n };
        return http_write_parts(a->x->fd, iov, k, a->deadline, &a->on_block);
}

static void reply_outcome(struct exchange *x, const struct safeexec_outcome *out) {
        struct jsondoc_out count = { 0 };
        safeexec_write(out, &count);
        if (count.error) {
                snprintf(x->detail, sizeof x->detail, "serializing the response failed: %s", strerror(-count.error));
                reply_error(x, 500, "http.internal_error", "Internal error", NULL);
                return;
        }
        struct answer a = {
                .x = x,
                .deadline = write_deadline(x, request_timeout_s(x)),
                .on_block = { .fn = end_execution_hook, .userdata = x },
        };
        int k = http_format_head(a.head, sizeof a.head, 200, NULL, count.total);
        if (k < 0) {
                reply_error(x, 500, "http.internal_error", "Internal error", NULL);
                return;
        }
        a.head_len = (size_t) k;
        x->status = 200;
        x->log_status = out->log_status ? out->log_status : "executed";
        _cleanup_free_ struct jsondoc_out *o = malloc(sizeof *o);
        if (!o) {
                snprintf(x->detail, sizeof x->detail, "writing the response: %s", strerror(ENOMEM));
                return;
        }
        *o = (struct jsondoc_out) { .flush = answer_flush, .ud = &a };
        safeexec_write(out, o);
        int r = jsondoc_out_flush(o);
        x->answer_lost = r < 0;
        if (r < 0)
                snprintf(x->detail, sizeof x->detail, "writing the response: %s", strerror(-r));
        else if (o->total != count.total)
                snprintf(x->detail, sizeof x->detail, "the response's length changed while written (%llu, %llu)",
                         (unsigned long long) count.total, (unsigned long long) o->total);
}

/* The uploaded files, in form order: their field names (for the payload's
 * python_path check) and what the jail writes under each name. 0 or
 * -ENOMEM; x->n_files counted. */
static int collect_files(struct exchange *x, const struct form *form, const char ***names_out,
                         struct jail_file **files_out) {
        for (size_t i = 0; i < form->n; i++)
                x->n_files += form->items[i].is_file;
        const char **names = calloc(x->n_files + 1, sizeof *names);
        struct jail_file *files = calloc(x->n_files + 1, sizeof *files);
        if (!names || !files) {
                free(names);
                free(files);
                return -ENOMEM;
        }
        for (size_t i = 0, k = 0; i < form->n; i++)
                if (form->items[i].is_file) {
                        names[k] = form->items[i].name;
                        /* codejail writes each file under its field name */
                        files[k++] = (struct jail_file) {
                                .name = form->items[i].name,
                                .data = form->items[i].data,
                                .len = form->items[i].len,
                        };
                }
        *names_out = names;
        *files_out = files;
        return 0;
}

/* payload_parse() refused: its own answer, or ours when it could not work. */
static void reply_payload_error(struct exchange *x, int r, const struct payload_error *perr) {
        if (r == -EINVAL)
                reply_error(x, perr->http_status ? perr->http_status : 400,
                            perr->log_status ? perr->log_status : "invalid.payload", perr->message, NULL);
        else {
                snprintf(x->detail, sizeof x->detail, "validating the payload: %s", strerror(-r));
                reply_error(x, 500, "http.internal_error", "Internal error", NULL);
        }
}

/* What the log entry says of an execution that ran (sanitized copies: the
 * label and the limit come from the privileged side's message). */
static void record_execution(struct exchange *x, const struct safeexec_outcome *out) {
        x->have_jail = true;
        x->jail = (struct jail_result) {
                .status = out->jail.status,
                .uid = out->jail.uid,
                .duration_ms = out->jail.duration_ms,
                .cpu_ms = out->jail.cpu_ms,
                .maxrss_kb = out->jail.maxrss_kb,
                .paused_ms = out->jail.paused_ms,
        };
        sanitize(x->jail.apparmor_label, sizeof x->jail.apparmor_label, out->jail.apparmor_label);
        sanitize(x->limit_hit, sizeof x->limit_hit, out->jail.limit_hit);
}

/* The client left while its program ran, and the execution was stopped:
 * logged with what it did until then; nothing to answer. */
static void stopped_for_client_gone(struct exchange *x, struct safeexec_outcome *out) {
        record_execution(x, out);
        x->log_status = "stopped.client_gone";
        snprintf(x->detail, sizeof x->detail, "the client hung up %llu ms into its execution; stopped",
                 (unsigned long long) out->jail.duration_ms);
        safeexec_done(out);
}

static void handle_code_exec(struct exchange *x) {
        const struct config *cfg = x->cfg;
        _cleanup_(form_done) struct form form = { 0 };
        _cleanup_free_ const char **names = NULL;
        _cleanup_free_ struct jail_file *files = NULL;
        struct payload p = { 0 };
        struct payload_error perr = { 0 };
        struct safeexec_outcome out = { 0 };
        struct jail_error jerr = { 0 };
        _cleanup_(admit_leave) struct admit_ticket ticket = ADMIT_TICKET_NULL;
        int r;

        if (!cfg) {
                reply_error(x, 500, "disabled.config_invalid", MSG_NOT_CONFIGURED, NULL);
                return;
        }
        /* 1 */
        if (!cfg->enabled) {
                reply_error(x, 500, "disabled.feature_switch", "Codejail service not enabled", NULL);
                return;
        }
        /* 2 */
        if (!health_ok(cfg, NULL)) {
                reply_error(x, 500, "disabled.safety_checks_failed", MSG_NOT_CONFIGURED, NULL);
                return;
        }
        if (parse_body(x, &form) < 0)
                return;
        /* 3 */
        const struct form_item *field = form_get_field(&form, "payload");
        if (!field) {
                reply_error(x, 400, "invalid.payload.missing", "Missing 'payload' parameter in POST body", NULL);
                return;
        }

        if (collect_files(x, &form, &names, &files) < 0) {
                reply_error(x, 500, "http.internal_error", "Internal error", NULL);
                return;
        }

        /* 4..8 */
        r = payload_parse(field->data, field->len, (const char *const *) names, x->n_files, &p, &perr);
        if (r < 0) {
                reply_payload_error(x, r, &perr);
                return;
        }
        x->have_payload = true;
        sanitize_n(x->slug, sizeof x->slug, p.slug, p.slug_len);
        sanitize_n(x->context, sizeof x->context, p.limits_context, p.limits_context_len);
        x->n_python_path = p.n_python_path;
        payload_code_sha256(&p, x->code_sha256);

        /* Only a request that passed checks 1-8 waits for a slot -- holding
         * what it needs (its body, the payload's index), not the heap that
         * checking it left free: malloc keeps freed memory resident. */
        malloc_trim(0);
        x->complete_ns = http_now_ns();
        /* A FIN from now on is asked about with the probe (admit.h), which
         * HTTP/1.0 does not know: there, only timed. */
        x->client = (struct admit_client) {
                .fd = x->fd,
                .since_ns = x->complete_ns,
                .probe = x->req.http_minor >= 1 ? ADMIT_PROBE : NULL,
        };
        if (admit(x, &ticket) < 0) {
                payload_done(&p);
                return;
        }
        r = safeexec_run_with(x->runner, cfg, &p, files, x->n_files, &x->client, &out, &jerr);
        if (r == -ECONNABORTED && out.jail.stopped) {
                stopped_for_client_gone(x, &out);
                payload_done(&p);
                return;
        }
        if (r < 0) {
                char step[sizeof jerr.step + 1];
                sanitize(step, sizeof step, jerr.step[0] ? jerr.step : "unknown");
                snprintf(x->detail, sizeof x->detail, "jail set-up failed at %s: %s (%s)", step,
                         strerror(jerr.error ? jerr.error : -r), strerror(-r));
                reply_error(x, 500, "error.jail_setup", MSG_NOT_CONFIGURED, NULL);
                payload_done(&p);
                return;
        }
        record_execution(x, &out);
        x->outcome = &out;
        x->ticket = &ticket;
        reply_outcome(x, &out);
        /* The answer is complete: let the client have its EOF now, while
         * the jail's teardown (init, namespaces, jail dir) and the log entry
         * still run. */
        (void)shutdown(x->fd, SHUT_WR);
        end_execution(x);
        safeexec_done(&out);
        payload_done(&p);
}

/* http.c's on_head hook: check 0 of codejail-service(7) "API", before the body. */
static int check_head(void *userdata, const struct http_request *req) {
        struct exchange *x = userdata;
        if (!config_auth_enabled(x->cfg) || strcmp(req->path, PATH_CODE_EXEC) != 0 || strcmp(req->method, "POST") != 0)
                return 0;
        if (req->n_authorization > 1) {
                x->auth_r = -EACCES;
                x->auth_err.log_status = "auth.invalid";
                snprintf(x->auth_err.reason, sizeof x->auth_err.reason, "%u Authorization headers", req->n_authorization);
                return x->auth_r;
        }
        int r = auth_check(&x->cfg->jwt, req->authorization, (int64_t)time(NULL), &x->caller, &x->auth_err);
        if (r < 0)
                return x->auth_r = r;
        x->authenticated = true;
        return 0;
}

static void reply_unauthenticated(struct exchange *x) {
        if (x->auth_r != -EACCES) {
                snprintf(x->detail, sizeof x->detail, "checking the token: %s", strerror(-x->auth_r));
                reply_error(x, 500, "http.internal_error", "Internal error", NULL);
                return;
        }
        bool missing = streq_safe(x->auth_err.log_status, "auth.missing");
        char msg[200];
        snprintf(x->detail, sizeof x->detail, "%s", x->auth_err.reason);
        /* RFC 6750 3.1's form for our scheme: no error code when no
         * credentials came at all. */
        if (missing)
                snprintf(msg, sizeof msg, "Authentication credentials were not provided.");
        else
                snprintf(msg, sizeof msg, "Invalid JWT: %s", x->auth_err.reason);
        reply_error(x, 401, missing ? "auth.missing" : "auth.invalid", msg,
                    missing ? "WWW-Authenticate: JWT realm=\"codejail-service\"\r\n"
                            : "WWW-Authenticate: JWT realm=\"codejail-service\", error=\"invalid_token\"\r\n");
}

static void route(struct exchange *x) {
        const char *m = x->req.method, *path = x->req.path;
        bool is_get = strcmp(m, "GET") == 0, is_head = strcmp(m, "HEAD") == 0;

        x->head_only = is_head;
        if (strcmp(path, PATH_CODE_EXEC) == 0) {
                if (strcmp(m, "POST") == 0)
                        handle_code_exec(x);
                else
                        reply_error(x, 405, "http.method_not_allowed", "Method not allowed", "Allow: POST\r\n");
        } else if (strcmp(path, "/health/") == 0 || strcmp(path, "/health") == 0) {
                if (is_get || is_head)
                        handle_health(x);
                else
                        reply_error(x, 405, "http.method_not_allowed", "Method not allowed",
                                    "Allow: GET, HEAD\r\n");
        } else if (strcmp(path, "/metrics") == 0 && (!x->cfg || x->cfg->metrics_route)) {
                if (is_get || is_head)
                        handle_metrics(x);
                else
                        reply_error(x, 405, "http.method_not_allowed", "Method not allowed",
                                    "Allow: GET, HEAD\r\n");
        } else
                reply_error(x, 404, "http.not_found", "Not found", NULL);
}

int server_handle(const struct config *cfg, const char *config_error, int fd) {
        return server_handle_with(cfg, config_error, fd, NULL);
}

int server_handle_with(const struct config *cfg, const char *config_error, int fd,
                       const struct safeexec_runner *runner) {
        struct exchange x = {
                .cfg = cfg,
                .config_error = config_error,
                .fd = fd,
                .runner = runner,
                .t0 = http_now_ns(),
        };
        struct http_error herr;

        remote_addr(fd, x.addr, sizeof x.addr, x.port, sizeof x.port);
        x.limits.max_header_bytes = cfg && cfg->max_header_bytes ? cfg->max_header_bytes : DEFAULT_MAX_HEADER_BYTES;
        x.limits.max_body_bytes = cfg && cfg->max_request_bytes ? cfg->max_request_bytes : DEFAULT_MAX_REQUEST_BYTES;
        x.limits.deadline_ns = x.t0 + (uint64_t) request_timeout_s(&x) * UINT64_C(1000000000);
        x.limits.on_head = check_head;
        x.limits.userdata = &x;

        int r = http_read_request(fd, &x.limits, &x.req, &herr);
        if (r == -ECANCELED) {
                x.have_req = true;
                reply_unauthenticated(&x);
                /* The body we refused to read may still be coming. */
                if (x.status)
                        http_linger(fd, write_deadline(&x, LINGER_S));
                log_exchange(&x);
                http_request_done(&x.req);
                return 0;
        }
        if (r < 0) {
                x.log_status = herr.log_status ? herr.log_status : "http.io_error";
                snprintf(x.detail, sizeof x.detail, "%s", herr.message);
                if (herr.status == 0) {
                        log_exchange(&x);
                        return r == -ECONNRESET ? 0 : r;
                }
                x.status = herr.status;
                int w = http_write_error(fd, herr.status, herr.message, NULL, false, write_deadline(&x, REJECT_WRITE_S));
                x.answer_lost = w < 0;
                /* A slowloris gets no more of our time; others may still be
                 * sending a body we refused to read. */
                if (w >= 0 && herr.status != 408)
                        http_linger(fd, write_deadline(&x, LINGER_S));
                log_exchange(&x);
                return w < 0 ? w : 0;
        }
        x.have_req = true;

        route(&x);
        log_exchange(&x);
        /* Whatever the client sent after its request must not cost it the
         * answer (after the log entry: the client's pace is not the
         * request's). */
        if (x.status && !x.answer_lost)
                http_finish(fd, write_deadline(&x, LINGER_S));
        http_request_done(&x.req);
        return 0;
}

int server_connection_fd(void) {
        int fd, n = sdproto_listen_fds();

        if (n < 0) {
                log_error("$LISTEN_FDS/$LISTEN_PID malformed: %s", strerror(-n));
                return n;
        }
        if (n > 1) {
                log_error("Expected one socket from systemd, got %d: the socket unit needs Accept=yes", n);
                return -EBADF;
        }
        fd = n == 1 ? 3 /* SD_LISTEN_FDS_START */ : STDIN_FILENO;
        if (sdproto_is_socket(fd, SOCK_STREAM, 1) > 0) {
                log_error("fd %d is a listening socket: the socket unit needs Accept=yes", fd);
                return -EINVAL;
        }
        if (sdproto_is_socket(fd, SOCK_STREAM, 0) <= 0) {
                log_error("No connected stream socket on fd %d: run under systemd socket activation "
                          "(Accept=yes), systemd-socket-activate -a, or inetd style on stdin",
                          fd);
                return -ENOTSOCK;
        }
        /* The jail closes every fd it does not need, but nothing of ours
         * should ever reach an exec. */
        int flags = fcntl(fd, F_GETFD);
        if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0)
                return negative_errno();
        return fd;
}
