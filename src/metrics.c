/* SPDX-License-Identifier: Apache-2.0 */
/* Counters across instances, and their exposition (see metrics.h).
 *
 * The file <state_dir>/metrics.<layout> holds one struct counters: plain
 * 64-bit cells, each only ever increased by one atomic add. So:
 *  - a kill -9 at any point never tears or doubles an increment (an add
 *    happens whole or not at all); what it can cost is the killed
 *    request's own outcome: killed before metrics_count(), that request is
 *    in no counter (as it is in no log entry) but in
 *    codejail_instances_started_total; killed during it (a few dozen
 *    nanoseconds), the request may be in some of its cells and not yet in
 *    the rest -- requests_total is added last, so a request that is in it
 *    is in every histogram too;
 *  - a histogram keeps each bucket's own count (not cumulative) and the
 *    sum; the exposition adds the buckets up and derives _count from them,
 *    so _count always equals the +Inf bucket and every series read is
 *    monotonic;
 *  - <layout> is a hash of the tables below: a build that counts other
 *    things uses another file instead of misreading this one (its counters
 *    start from zero, which Prometheus reads as a reset).
 * Label values come only from the tables below (an unknown status is
 * "other"): the label sets are fixed at build time. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "admit.h"
#include "health.h"
#include "macro.h"
#include "metrics.h"

/* CODEJAIL_STATUS values with the HTTP status each answers with (README
 * "API", "HTTP", "Logs"); a pair seen otherwise is counted too, under its
 * own code. */
static const struct status_row {
        const char *name;
        int code;
} status_rows[] = {
        { "executed.success", 200 },
        { "executed.error", 200 },
        { "disabled.feature_switch", 500 },
        { "disabled.safety_checks_failed", 500 },
        { "disabled.config_invalid", 500 },
        { "invalid.payload.missing", 400 },
        { "invalid.payload.bad_json", 400 },
        { "invalid.payload.schema_mismatch", 400 },
        { "invalid.python_path", 400 },
        { "invalid.files", 400 },
        { "invalid.unsafely", 400 },
        { "invalid.form", 400 },
        { "invalid.form_too_large", 400 },
        { "auth.missing", 401 },
        { "auth.invalid", 401 },
        { "queue.timeout", 503 },
        { "queue.client_gone", 0 },
        { "stopped.client_gone", 0 },
        { "error.queue", 500 },
        { "error.jail_setup", 500 },
        { "health.ok", 200 },
        { "health.unavailable", 503 },
        { "metrics.ok", 200 },
        { "metrics.unavailable", 503 },
        { "http.no_request", 0 },
        { "http.io_error", 0 },
        { "http.bad_request", 400 },
        { "http.timeout", 408 },
        { "http.too_large", 413 },
        { "http.header_too_large", 431 },
        { "http.not_found", 404 },
        { "http.method_not_allowed", 405 },
        { "http.unsupported_media_type", 415 },
        { "http.internal_error", 500 },
        { "other", 0 }, /* last: anything else */
};
#define N_STATUS ELEMENTSOF(status_rows)

const char *metrics_status_name(size_t i) {
        return i + 1 < N_STATUS ? status_rows[i].name : NULL;
}

/* HTTP statuses the service answers with; 0 (no answer) is "none", the
 * last row anything else. */
static const int codes[] = { 0, 200, 400, 401, 404, 405, 408, 413, 415, 431, 500, 503, -1 };
#define N_CODES ELEMENTSOF(codes)

static const char *const routes[] = { "code-exec", "health", "metrics", "other" };
#define N_ROUTES ELEMENTSOF(routes)

/* Upper bounds in us, one set for every histogram: from a health probe's
 * fraction of a millisecond to queue_timeout_s's default; 3.5 s is the
 * LMS's read timeout (an answer later than that reaches no student). */
static const uint64_t bucket_us[] = { 500,     1000,    2500,    5000,    10000,    25000,    50000,   100000, 250000,
                                      500000,  1000000, 2000000, 3500000, 5000000, 10000000, 30000000, 60000000 };
#define N_BUCKETS ELEMENTSOF(bucket_us)

/* What ends an execution early (jail.c's CODEJAIL_LIMIT_HIT; PACING: a
 * paused execution that undid its pause, pace.h). VMEM, FSIZE, NPROC and
 * TMPFS never kill: the program's call fails (MemoryError, errno 27, 11,
 * 28) and it goes on, so there is nothing to count. */
static const char *const limits[] = { "CPU", "REALTIME", "OUTPUT", "PACING", "other" };
#define N_LIMITS ELEMENTSOF(limits)

static const char *const stages[] = { "queue", "execution", "answer" };

struct hist {
        uint64_t bucket[N_BUCKETS + 1]; /* the last: +Inf */
        uint64_t sum_us;
};

struct counters {
        uint64_t started;
        struct hist request[N_ROUTES];
        struct hist queue;
        struct hist execution;
        uint64_t limit_kills[N_LIMITS];
        uint64_t paused, paused_us;
        uint64_t clients_gone[ELEMENTSOF(stages)];
        uint64_t requests[N_STATUS][N_CODES];
};

static struct counters *shared;
static int open_error = ENODEV; /* why there is no mapping */

static void add(uint64_t *cell, uint64_t v) {
        __atomic_fetch_add(cell, v, __ATOMIC_RELAXED);
}

static uint64_t get(const uint64_t *cell) {
        return __atomic_load_n(cell, __ATOMIC_RELAXED);
}

/* FNV-1a over everything that shapes the file. */
static uint32_t layout_hash(void) {
        uint32_t h = 2166136261u;
#define MIX(p, n)                                                      \
        for (size_t _i = 0; _i < (n); _i++)                            \
                h = (h ^ ((const unsigned char *)(p))[_i]) * 16777619u;
        for (size_t i = 0; i < N_STATUS; i++)
                MIX(status_rows[i].name, strlen(status_rows[i].name) + 1);
        MIX(codes, sizeof codes);
        for (size_t i = 0; i < N_ROUTES; i++)
                MIX(routes[i], strlen(routes[i]) + 1);
        MIX(bucket_us, sizeof bucket_us);
        for (size_t i = 0; i < N_LIMITS; i++)
                MIX(limits[i], strlen(limits[i]) + 1);
        size_t size = sizeof(struct counters);
        MIX(&size, sizeof size);
#undef MIX
        return h;
}

static bool writable;

static int map_counters(const char *state_dir, bool write, char *path, size_t size) {
        snprintf(path, size, "%s/metrics.%08x", state_dir, layout_hash());
        _cleanup_close_ int fd = write ? open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600)
                                       : open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        /* Every instance extends it to the same size: a race, or one
         * killed between the open and here, only repeats it. */
        if ((size_t)st.st_size < sizeof(struct counters)) {
                if (!write)
                        return -ENODATA;
                if (ftruncate(fd, sizeof(struct counters)) < 0)
                        return negative_errno();
        }
        void *p = mmap(NULL, sizeof(struct counters), write ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
                return negative_errno();
        shared = p;
        writable = write;
        return 0;
}

int metrics_open(const char *state_dir, enum metrics_mode mode) {
        char path[320]; /* state_dir: < 256 (conf.c) */
        if (!shared) {
                int r = map_counters(state_dir, mode == METRICS_INSTANCE, path, sizeof path);
                if (r < 0)
                        return -(open_error = -r);
        }
        if (mode == METRICS_INSTANCE && writable)
                add(&shared->started, 1);
        return 0;
}

static void observe(struct hist *h, uint64_t us) {
        size_t b = 0;
        while (b < N_BUCKETS && us > bucket_us[b])
                b++;
        add(&h->bucket[b], 1);
        add(&h->sum_us, us);
}

static size_t status_index(const char *s) {
        for (size_t i = 0; i + 1 < N_STATUS; i++)
                if (streq_safe(s, status_rows[i].name))
                        return i;
        return N_STATUS - 1;
}

static size_t code_index(int code) {
        for (size_t i = 0; i + 1 < N_CODES; i++)
                if (codes[i] == code)
                        return i;
        return N_CODES - 1;
}

static size_t route_index(const char *path) {
        if (!path)
                return N_ROUTES - 1;
        if (strcmp(path, "/api/v0/code-exec") == 0)
                return 0;
        if (strcmp(path, "/health/") == 0 || strcmp(path, "/health") == 0)
                return 1;
        if (strcmp(path, "/metrics") == 0)
                return 2;
        return N_ROUTES - 1;
}

void metrics_count(const struct metrics_outcome *o) {
        struct counters *c = writable ? shared : NULL;
        if (!c)
                return;
        size_t s = status_index(o->status);
        observe(&c->request[route_index(o->path)], o->request_us);
        if (o->queued)
                observe(&c->queue, o->queue_ms * 1000);
        if (o->executed)
                observe(&c->execution, o->execution_ms * 1000);
        if (o->limit_hit && o->limit_hit[0]) {
                size_t l = 0;
                while (l + 1 < N_LIMITS && strcmp(o->limit_hit, limits[l]) != 0)
                        l++;
                add(&c->limit_kills[l], 1);
        }
        if (o->paused_ms) {
                add(&c->paused, 1);
                add(&c->paused_us, o->paused_ms * 1000);
        }
        if (streq_safe(status_rows[s].name, "queue.client_gone"))
                add(&c->clients_gone[0], 1);
        if (streq_safe(status_rows[s].name, "stopped.client_gone"))
                add(&c->clients_gone[1], 1);
        if (o->answer_lost)
                add(&c->clients_gone[2], 1);
        /* Last (see the top of this file). */
        add(&c->requests[s][code_index(o->http_status)], 1);
}

/* ---- exposition ---- */

static void code_label(char *buf, size_t size, size_t i) {
        if (codes[i] == 0)
                snprintf(buf, size, "none");
        else if (codes[i] < 0)
                snprintf(buf, size, "other");
        else
                snprintf(buf, size, "%d", codes[i]);
}

static void header(FILE *f, const char *name, const char *type, const char *help) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Seconds from us, exactly and without trailing zeros ("0.0025", "60"). */
static void print_seconds(FILE *f, uint64_t us) {
        char frac[8];
        snprintf(frac, sizeof frac, "%06" PRIu64, us % 1000000);
        for (size_t n = strlen(frac); n > 0 && frac[n - 1] == '0'; n--)
                frac[n - 1] = 0;
        fprintf(f, "%" PRIu64 "%s%s", us / 1000000, frac[0] ? "." : "", frac);
}

static void print_hist(FILE *f, const char *name, const char *label, const struct hist *h) {
        uint64_t total = 0;
        for (size_t b = 0; b <= N_BUCKETS; b++) {
                total += get(&h->bucket[b]);
                fprintf(f, "%s_bucket{%s%sle=\"", name, label ? label : "", label ? "," : "");
                if (b < N_BUCKETS)
                        print_seconds(f, bucket_us[b]);
                else
                        fputs("+Inf", f);
                fprintf(f, "\"} %" PRIu64 "\n", total);
        }
        uint64_t sum = get(&h->sum_us);
        fprintf(f, "%s_sum%s%s%s %" PRIu64 ".%06" PRIu64 "\n", name, label ? "{" : "", label ? label : "",
                label ? "}" : "", sum / 1000000, sum % 1000000);
        fprintf(f, "%s_count%s%s%s %" PRIu64 "\n", name, label ? "{" : "", label ? label : "", label ? "}" : "",
                total);
}

static void render_counters(FILE *f, const struct counters *c) {
        char code[16], label[64];

        header(f, "codejail_requests_total", "counter",
               "Requests by CODEJAIL_STATUS (upstream's codejail.exec.status where it applies) and HTTP status "
               "(none: no answer).");
        for (size_t s = 0; s < N_STATUS; s++)
                for (size_t k = 0; k < N_CODES; k++) {
                        uint64_t v = get(&c->requests[s][k]);
                        /* Each status's own code always (a counter that
                         * appears at 1 hides its first increase), others
                         * once seen. */
                        bool own = s + 1 < N_STATUS && codes[k] == status_rows[s].code;
                        if (!v && !own)
                                continue;
                        code_label(code, sizeof code, k);
                        fprintf(f, "codejail_requests_total{code=\"%s\",status=\"%s\"} %" PRIu64 "\n", code,
                                status_rows[s].name, v);
                }

        header(f, "codejail_request_duration_seconds", "histogram",
               "Time from the connection's accept to the request's end, by route.");
        for (size_t r = 0; r < N_ROUTES; r++) {
                snprintf(label, sizeof label, "route=\"%s\"", routes[r]);
                print_hist(f, "codejail_request_duration_seconds", label, &c->request[r]);
        }
        header(f, "codejail_queue_wait_seconds", "histogram",
               "Time code-exec requests waited for an execution slot (those that reached admission control).");
        print_hist(f, "codejail_queue_wait_seconds", NULL, &c->queue);
        header(f, "codejail_execution_duration_seconds", "histogram",
               "Wall-clock time of executions, from the jail's start to the program's end.");
        print_hist(f, "codejail_execution_duration_seconds", NULL, &c->execution);

        header(f, "codejail_limit_kills_total", "counter",
               "Executions killed by a limit (CODEJAIL_LIMIT_HIT): CPU, REALTIME, OUTPUT, PACING.");
        for (size_t l = 0; l < N_LIMITS; l++) {
                uint64_t v = get(&c->limit_kills[l]);
                if (l + 1 < N_LIMITS || v)
                        fprintf(f, "codejail_limit_kills_total{limit=\"%s\"} %" PRIu64 "\n", limits[l], v);
        }
        header(f, "codejail_executions_paused_total", "counter",
               "Executions paused for want of a CPU-bound place (CODEJAIL_PAUSED_MS).");
        fprintf(f, "codejail_executions_paused_total %" PRIu64 "\n", get(&c->paused));
        header(f, "codejail_execution_paused_seconds_total", "counter", "Time those executions were paused.");
        fprintf(f, "codejail_execution_paused_seconds_total %.6f\n", (double)get(&c->paused_us) / 1e6);
        header(f, "codejail_clients_gone_total", "counter",
               "Clients that left before their answer: while queued (not executed), while their program ran "
               "(stopped), or before the answer could be written.");
        for (size_t i = 0; i < ELEMENTSOF(stages); i++)
                fprintf(f, "codejail_clients_gone_total{stage=\"%s\"} %" PRIu64 "\n", stages[i],
                        get(&c->clients_gone[i]));
        header(f, "codejail_instances_started_total", "counter",
               "Instances started (one per connection); minus the requests counted, those still running or "
               "ended without an outcome (killed).");
        fprintf(f, "codejail_instances_started_total %" PRIu64 "\n", get(&c->started));
}

static void gauge(FILE *f, const char *name, const char *help, long long v) {
        header(f, name, "gauge", help);
        fprintf(f, "%s %lld\n", name, v);
}

/* Label values from the health state: printable ASCII without quotes or
 * backslashes, bounded. */
static void label_value(char *dst, size_t size, const char *src) {
        size_t o = 0;
        for (; src && *src && o + 1 < size; src++)
                dst[o++] = (*src >= 0x20 && *src < 0x7f && *src != '"' && *src != '\\') ? *src : '?';
        dst[o] = 0;
        if (!o)
                snprintf(dst, size, "unknown");
}

static void render_state(FILE *f, const struct config *cfg, int lock_fd) {
        unsigned running, waiting, starting, cpu_bound;
        if (lock_fd >= 0 && admit_count_pools(lock_fd, &starting, &cpu_bound) >= 0) {
                gauge(f, "codejail_executions_starting",
                      "Executions in their first 250 ms now (starting places held).", starting);
                gauge(f, "codejail_executions_cpu_bound",
                      "CPU-bound executions running now (CPU-bound places held).", cpu_bound);
        }
        if (lock_fd >= 0 && admit_count(lock_fd, &running, &waiting) >= 0) {
                gauge(f, "codejail_executions_running", "Execution slots held now (the admission lock's state).",
                      running);
                gauge(f, "codejail_executions_waiting",
                      "Code-exec requests waiting for an execution slot now (the admission lock's state).", waiting);
        }
        gauge(f, "codejail_execution_slots", "max_concurrent_executions.", cfg->max_concurrent_executions);
        gauge(f, "codejail_starting_places", "max_starting_executions.", cfg->max_starting_executions);
        gauge(f, "codejail_cpu_bound_places", "max_cpu_bound_executions.", cfg->max_cpu_bound_executions);
        gauge(f, "codejail_enabled", "1 when the configuration's enabled is true.", cfg->enabled);

        json_t *state = NULL;
        bool healthy = health_ok(cfg, &state);
        gauge(f, "codejail_healthy",
              "1 when the selfcheck passed and is younger than health_max_age_s (/health/ answers 200).", healthy);
        const char *status = json_string_value(json_object_get(state, "status"));
        gauge(f, "codejail_selfcheck_passed", "1 when health.json says every check passed.",
              streq_safe(status, "OK"));
        json_t *checks = json_object_get(state, "checks"), *chk;
        size_t i, failed = 0;
        json_array_foreach(checks, i, chk) failed += !json_is_true(json_object_get(chk, "pass"));
        gauge(f, "codejail_selfcheck_checks_failed", "Checks of the last selfcheck that failed.", (long long)failed);
        json_t *ts = json_object_get(state, "timestamp");
        if (json_is_integer(ts)) {
                gauge(f, "codejail_selfcheck_timestamp_seconds", "When the selfcheck last wrote health.json.",
                      (long long)json_integer_value(ts));
                gauge(f, "codejail_selfcheck_age_seconds", "Age of health.json now.",
                      (long long)time(NULL) - (long long)json_integer_value(ts));
        }
        gauge(f, "codejail_health_max_age_seconds", "health_max_age_s.", cfg->health_max_age_s);

        json_t *layers = json_object_get(state, "layers");
        json_int_t abi = json_integer_value(json_object_get(layers, "landlock_abi"));
        header(f, "codejail_layer_enforced", "gauge",
               "1 for each confinement layer the last selfcheck found in force.");
        fprintf(f, "codejail_layer_enforced{layer=\"landlock\"} %d\n", abi > 0);
        fprintf(f, "codejail_layer_enforced{layer=\"seccomp\"} %d\n",
                json_is_true(json_object_get(layers, "seccomp")));
        fprintf(f, "codejail_layer_enforced{layer=\"namespaces\"} %d\n",
                json_array_size(json_object_get(layers, "namespaces")) > 0);
        fprintf(f, "codejail_layer_enforced{layer=\"apparmor\"} %d\n",
                streq_safe(json_string_value(json_object_get(layers, "apparmor")), "enforced"));
        gauge(f, "codejail_landlock_abi", "The Landlock ABI executions run under (0: none).", (long long)abi);

        char python[32];
        label_value(python, sizeof python, json_string_value(json_object_get(state, "python")));
        header(f, "codejail_build_info", "gauge",
               "The service's version and the sandbox Python's (from the selfcheck; unknown before one).");
        fprintf(f, "codejail_build_info{python=\"%s\",version=\"%s\"} 1\n", python, PACKAGE_VERSION);
        json_decref(state);
}

int metrics_render(const struct config *cfg, int lock_fd, char **text, size_t *len) {
        char *buf = NULL;
        size_t n = 0;
        if (!shared)
                return -open_error;
        FILE *f = open_memstream(&buf, &n);
        if (!f)
                return negative_errno();
        render_counters(f, shared);
        render_state(f, cfg, lock_fd);
        if (ferror(f)) {
                fclose(f);
                free(buf);
                return -ENOMEM;
        }
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *text = buf;
        *len = n;
        return 0;
}
