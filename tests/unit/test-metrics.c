/* SPDX-License-Identifier: Apache-2.0 */
/* The counters (src/metrics.c): what one outcome adds, across processes
 * without a lost or doubled increment, what a kill -9 in the middle of
 * counting can leave (at most the killed request's own partial outcome),
 * bounded labels, and the exposition's shape. Each case runs in a child:
 * the mapping is per process. */
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "admit.h"
#include "conf.h"
#include "metrics.h"

static char dir[64];

static int setup(void **state) {
        snprintf(dir, sizeof dir, "/tmp/test-metrics-XXXXXX");
        return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        return system(cmd) == 0 ? 0 : -1;
}

static struct config *cfg_for_dir(void) {
        struct config *c = NULL;
        assert_int_equal(config_new_default(&c), 0);
        free(c->state_dir);
        c->state_dir = strdup(dir);
        return c;
}

/* The exposition of this process's mapping. */
static char *render(void) {
        struct config *c = cfg_for_dir();
        char *text = NULL;
        size_t len = 0;
        assert_int_equal(metrics_render(c, -1, &text, &len), 0);
        assert_int_equal(strlen(text), len);
        config_free(c);
        return text;
}

/* The value of the series written exactly as `series`, or -1. */
static long long value(const char *text, const char *series) {
        size_t n = strlen(series);
        for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                if (strncmp(l, series, n) == 0 && l[n] == ' ')
                        return strtoll(l + n + 1, NULL, 10);
        return -1;
}

static bool has_line(const char *text, const char *line) {
        size_t n = strlen(line);
        for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                if (strncmp(l, line, n) == 0 && (l[n] == '\n' || l[n] == 0))
                        return true;
        return false;
}

/* Run fn in a child; the case passes when the child exits 0. */
static void in_child(void (*fn)(void)) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                fn();
                _exit(0);
        }
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
}

#define CHECK(cond)                                                                                     \
        do {                                                                                            \
                if (!(cond)) {                                                                          \
                        fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond);                      \
                        _exit(1);                                                                       \
                }                                                                                       \
        } while (0)

static const struct metrics_outcome success = {
        .status = "executed.success", .http_status = 200, .path = "/api/v0/code-exec", .request_us = 30000,
        .queued = true, .queue_ms = 0, .executed = true, .execution_ms = 20,
};

static void count_and_render(void) {
        CHECK(metrics_open(dir, METRICS_INSTANCE) == 0);
        metrics_count(&success);
        metrics_count(&success);
        metrics_count(&(struct metrics_outcome){ .status = "executed.error", .http_status = 200,
                                                 .path = "/api/v0/code-exec", .request_us = 4200000,
                                                 .queued = true, .queue_ms = 1500, .executed = true,
                                                 .execution_ms = 4100, .limit_hit = "REALTIME",
                                                 .paused_ms = 1250 });
        metrics_count(&(struct metrics_outcome){ .status = "queue.client_gone", .http_status = 0,
                                                 .path = "/api/v0/code-exec", .request_us = 2000000,
                                                 .queued = true, .queue_ms = 1990 });
        metrics_count(&(struct metrics_outcome){ .status = "health.ok", .http_status = 200, .path = "/health/",
                                                 .request_us = 400 });
        metrics_count(&(struct metrics_outcome){ .status = "stopped.client_gone", .http_status = 0 });
        metrics_count(&(struct metrics_outcome){ .status = "http.no_request", .request_us = 100 });
        metrics_count(&(struct metrics_outcome){ .status = "executed.success", .http_status = 200,
                                                 .path = "/api/v0/code-exec", .request_us = 10,
                                                 .answer_lost = true });
        /* Outside the tables: counted, under "other". */
        metrics_count(&(struct metrics_outcome){ .status = "some.new_status", .http_status = 302,
                                                 .path = "/elsewhere", .request_us = 99000000,
                                                 .limit_hit = "TMPFS" });
        char *t = render();
        CHECK(value(t, "codejail_requests_total{code=\"200\",status=\"executed.success\"}") == 3);
        CHECK(value(t, "codejail_requests_total{code=\"200\",status=\"executed.error\"}") == 1);
        CHECK(value(t, "codejail_requests_total{code=\"none\",status=\"queue.client_gone\"}") == 1);
        CHECK(value(t, "codejail_requests_total{code=\"200\",status=\"health.ok\"}") == 1);
        CHECK(value(t, "codejail_requests_total{code=\"none\",status=\"http.no_request\"}") == 1);
        CHECK(value(t, "codejail_requests_total{code=\"other\",status=\"other\"}") == 1);
        /* Every status's own pair is there at 0 before it happens. */
        CHECK(value(t, "codejail_requests_total{code=\"503\",status=\"queue.timeout\"}") == 0);
        CHECK(value(t, "codejail_requests_total{code=\"401\",status=\"auth.missing\"}") == 0);
        for (size_t i = 0; metrics_status_name(i); i++) {
                char needle[128];
                snprintf(needle, sizeof needle, "status=\"%s\"}", metrics_status_name(i));
                CHECK(strstr(t, needle));
        }
        /* Histograms: cumulative buckets, _count = +Inf, exact sums. */
        CHECK(value(t, "codejail_request_duration_seconds_bucket{route=\"code-exec\",le=\"0.0005\"}") == 1);
        CHECK(value(t, "codejail_request_duration_seconds_bucket{route=\"code-exec\",le=\"0.025\"}") == 1);
        CHECK(value(t, "codejail_request_duration_seconds_bucket{route=\"code-exec\",le=\"0.05\"}") == 3);
        CHECK(value(t, "codejail_request_duration_seconds_bucket{route=\"code-exec\",le=\"2\"}") == 4);
        CHECK(value(t, "codejail_request_duration_seconds_bucket{route=\"code-exec\",le=\"3.5\"}") == 4);
        CHECK(value(t, "codejail_request_duration_seconds_bucket{route=\"code-exec\",le=\"5\"}") == 5);
        CHECK(value(t, "codejail_request_duration_seconds_bucket{route=\"code-exec\",le=\"+Inf\"}") == 5);
        CHECK(value(t, "codejail_request_duration_seconds_count{route=\"code-exec\"}") == 5);
        CHECK(has_line(t, "codejail_request_duration_seconds_sum{route=\"code-exec\"} 6.260010"));
        CHECK(value(t, "codejail_request_duration_seconds_bucket{route=\"other\",le=\"60\"}") == 2);
        CHECK(value(t, "codejail_request_duration_seconds_count{route=\"other\"}") == 3);
        CHECK(value(t, "codejail_request_duration_seconds_count{route=\"health\"}") == 1);
        CHECK(value(t, "codejail_request_duration_seconds_count{route=\"metrics\"}") == 0);
        CHECK(value(t, "codejail_queue_wait_seconds_bucket{le=\"0.0005\"}") == 2);
        CHECK(value(t, "codejail_queue_wait_seconds_bucket{le=\"1\"}") == 2);
        CHECK(value(t, "codejail_queue_wait_seconds_bucket{le=\"2\"}") == 4);
        CHECK(value(t, "codejail_queue_wait_seconds_count") == 4);
        CHECK(has_line(t, "codejail_queue_wait_seconds_sum 3.490000"));
        CHECK(value(t, "codejail_execution_duration_seconds_count") == 3);
        CHECK(value(t, "codejail_execution_duration_seconds_bucket{le=\"0.025\"}") == 2);
        CHECK(value(t, "codejail_limit_kills_total{limit=\"REALTIME\"}") == 1);
        CHECK(value(t, "codejail_limit_kills_total{limit=\"CPU\"}") == 0);
        CHECK(value(t, "codejail_limit_kills_total{limit=\"OUTPUT\"}") == 0);
        CHECK(value(t, "codejail_limit_kills_total{limit=\"PACING\"}") == 0);
        CHECK(value(t, "codejail_limit_kills_total{limit=\"other\"}") == 1);
        CHECK(value(t, "codejail_executions_paused_total") == 1);
        CHECK(has_line(t, "codejail_execution_paused_seconds_total 1.250000"));
        CHECK(value(t, "codejail_clients_gone_total{stage=\"queue\"}") == 1);
        CHECK(value(t, "codejail_clients_gone_total{stage=\"execution\"}") == 1);
        CHECK(value(t, "codejail_requests_total{code=\"none\",status=\"stopped.client_gone\"}") == 1);
        CHECK(value(t, "codejail_clients_gone_total{stage=\"answer\"}") == 1);
        CHECK(value(t, "codejail_instances_started_total") == 1);
        /* No health state in dir: not healthy, no age. */
        CHECK(value(t, "codejail_healthy") == 0);
        CHECK(value(t, "codejail_selfcheck_passed") == 0);
        CHECK(value(t, "codejail_selfcheck_age_seconds") == -1);
        CHECK(has_line(t, "codejail_build_info{python=\"unknown\",version=\"" PACKAGE_VERSION "\"} 1"));
        /* Without a lock fd the gauges that need it are left out, not 0. */
        CHECK(value(t, "codejail_executions_running") == -1);
        CHECK(strstr(t, "# TYPE codejail_requests_total counter\n"));
        CHECK(strstr(t, "# TYPE codejail_request_duration_seconds histogram\n"));
        free(t);
}

static void test_count_and_render(void **state) {
        in_child(count_and_render);
}

/* The file is shared: another process's mapping adds to the same cells,
 * and its render sees them. */
static void open_and_count(void) {
        CHECK(metrics_open(dir, METRICS_INSTANCE) == 0);
        for (int i = 0; i < 20000; i++)
                metrics_count(&success);
}

static void check_total(void) {
        CHECK(metrics_open(dir, METRICS_READ) == 0);
        char *t = render();
        CHECK(value(t, "codejail_requests_total{code=\"200\",status=\"executed.success\"}") == 4 * 20000);
        CHECK(value(t, "codejail_request_duration_seconds_count{route=\"code-exec\"}") == 4 * 20000);
        CHECK(value(t, "codejail_execution_duration_seconds_count") == 4 * 20000);
        CHECK(value(t, "codejail_instances_started_total") == 4);
        free(t);
}

static void test_across_processes(void **state) {
        pid_t kids[4];
        for (int i = 0; i < 4; i++) {
                kids[i] = fork();
                assert_true(kids[i] >= 0);
                if (kids[i] == 0) {
                        open_and_count();
                        _exit(0);
                }
        }
        for (int i = 0; i < 4; i++) {
                int st;
                assert_int_equal(waitpid(kids[i], &st, 0), kids[i]);
                assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        }
        in_child(check_total);
}

/* kill -9 of a process in the middle of counting, again and again: no
 * cell is torn (every value a whole count), the requests counted never
 * exceed what each histogram holds, and a histogram holds at most one
 * request more than requests_total per killed process (the one it was
 * counting). */
static void count_forever(int ready) {
        CHECK(metrics_open(dir, METRICS_INSTANCE) == 0);
        CHECK(write(ready, "x", 1) == 1);
        for (;;)
                metrics_count(&success);
}

/* A _sum series' value in microseconds. */
static long long sum_us(const char *text, const char *series) {
        const char *l = strstr(text, series);
        long long s = 0, frac = 0;
        if (!l || sscanf(l + strlen(series), " %lld.%6lld", &s, &frac) != 2)
                return -1;
        return s * 1000000 + frac;
}

static int kills;

static void check_after_kills(void) {
        CHECK(metrics_open(dir, METRICS_READ) == 0);
        char *t = render();
        long long req = value(t, "codejail_requests_total{code=\"200\",status=\"executed.success\"}");
        long long hist = value(t, "codejail_request_duration_seconds_count{route=\"code-exec\"}");
        long long exec = value(t, "codejail_execution_duration_seconds_count");
        long long queue = value(t, "codejail_queue_wait_seconds_count");
        fprintf(stderr, "after %d kills: requests %lld, request histogram %lld, execution %lld, queue %lld\n", kills,
                req, hist, exec, queue);
        CHECK(req > 0);
        CHECK(hist >= req && hist - req <= kills);
        CHECK(queue >= req && queue - req <= kills);
        CHECK(exec >= req && exec - req <= kills);
        CHECK(value(t, "codejail_instances_started_total") == kills);
        /* 0.03 s per observation; the sum is added after its bucket, so at
         * most one observation behind per kill. */
        long long sum = sum_us(t, "codejail_request_duration_seconds_sum{route=\"code-exec\"}");
        CHECK(sum <= hist * 30000 && sum >= (hist - kills) * 30000);
        free(t);
}

static void test_kill9_midway(void **state) {
        srand((unsigned)time(NULL));
        for (kills = 0; kills < 20;) {
                int p[2];
                char c;
                assert_int_equal(pipe(p), 0);
                pid_t pid = fork();
                assert_true(pid >= 0);
                if (pid == 0) {
                        count_forever(p[1]);
                        _exit(0);
                }
                close(p[1]);
                assert_int_equal(read(p[0], &c, 1), 1);
                close(p[0]);
                struct timespec ts = { 0, (rand() % 3000) * 1000 };
                nanosleep(&ts, NULL);
                kill(pid, SIGKILL);
                int st;
                assert_int_equal(waitpid(pid, &st, 0), pid);
                assert_true(WIFSIGNALED(st));
                kills++;
        }
        in_child(check_after_kills);
}

/* No mapping: nothing counted (and no crash), the render says why. */
static void unmapped(void) {
        metrics_count(&success);
        struct config *c = cfg_for_dir();
        char *t = NULL;
        size_t n;
        CHECK(metrics_render(c, -1, &t, &n) == -ENODEV);
        CHECK(metrics_open("/nonexistent/state", METRICS_INSTANCE) == -ENOENT);
        CHECK(metrics_render(c, -1, &t, &n) == -ENOENT);
        /* Reading creates nothing. */
        CHECK(metrics_open(dir, METRICS_READ) == -ENOENT);
        config_free(c);
}

/* A reader's mapping is read-only: it counts nothing, and renders what
 * instances counted. */
static void read_only(void) {
        CHECK(metrics_open(dir, METRICS_READ) == 0);
        metrics_count(&success);
        char *t = render();
        CHECK(value(t, "codejail_requests_total{code=\"200\",status=\"executed.success\"}") == 20000);
        free(t);
}

static void test_read_only(void **state) {
        in_child(open_and_count);
        in_child(read_only);
}

static void test_unmapped(void **state) {
        in_child(unmapped);
}

/* The gauges from the admission lock: a slot held by another open file
 * description is one running execution. */
static void gauges(void) {
        char lock[128];
        snprintf(lock, sizeof lock, "%s/admission.lock", dir);
        CHECK(metrics_open(dir, METRICS_INSTANCE) == 0);
        int fd = admit_open(lock);
        CHECK(fd >= 0);
        struct admit_ticket t = ADMIT_TICKET_NULL;
        uint64_t w;
        CHECK(admit_enter(lock, 2, 3, 0, NULL, &t, &w) == 0);
        /* a second holder, CPU-bound */
        int other = admit_open(lock);
        CHECK(other >= 0 && admit_take_long(other, 1) == 0);
        struct config *c = cfg_for_dir();
        char *text = NULL;
        size_t n;
        CHECK(metrics_render(c, fd, &text, &n) == 0);
        CHECK(value(text, "codejail_executions_running") == 1);
        CHECK(value(text, "codejail_executions_waiting") == 0);
        CHECK(value(text, "codejail_executions_starting") == 1);
        CHECK(value(text, "codejail_executions_cpu_bound") == 1);
        CHECK(value(text, "codejail_cpu_bound_places") == (long long)c->max_cpu_bound_executions);
        close(other);
        CHECK(value(text, "codejail_execution_slots") == (long long)c->max_concurrent_executions);
        free(text);
        /* codejaild --metrics reads through a read-only descriptor. */
        int ro = open(lock, O_RDONLY | O_CLOEXEC);
        CHECK(ro >= 0);
        CHECK(metrics_render(c, ro, &text, &n) == 0);
        CHECK(value(text, "codejail_executions_running") == 1);
        free(text);
        close(ro);
        admit_leave(&t);
        CHECK(metrics_render(c, fd, &text, &n) == 0);
        CHECK(value(text, "codejail_executions_running") == 0);
        free(text);
        config_free(c);
        close(fd);
}

static void test_gauges(void **state) {
        in_child(gauges);
}

/* The file: mode 0600, named after the layout, one size whatever the
 * number of openers. */
static void test_file(void **state) {
        in_child(open_and_count);
        in_child(open_and_count);
        char cmd[160];
        snprintf(cmd, sizeof cmd, "test $(ls '%s' | grep -c '^metrics\\.[0-9a-f]\\{8\\}$') = 1", dir);
        assert_int_equal(system(cmd), 0);
        snprintf(cmd, sizeof cmd, "test \"$(stat -c %%a '%s'/metrics.*)\" = 600", dir);
        assert_int_equal(system(cmd), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_count_and_render, setup, teardown),
                cmocka_unit_test_setup_teardown(test_across_processes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_kill9_midway, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unmapped, setup, teardown),
                cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
                cmocka_unit_test_setup_teardown(test_gauges, setup, teardown),
                cmocka_unit_test_setup_teardown(test_file, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
