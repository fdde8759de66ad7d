/* SPDX-License-Identifier: Apache-2.0 */
/* The split of an instance (privsep.c): the privileged side's reading of
 * what the unprivileged side sends (nothing, garbage, a request without a
 * config), the unprivileged side's runner against a stand-in parent
 * (outcome, set-up failure, garbage, the teardown's end). The drop is
 * tried in test-unpriv.c. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <time.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "execmsg.h"
#include "fdio.h"
#include "log.h"
#include "privsep.h"

static struct jail_request sample(void) {
        static const char in[] = "[\"x = x + 1\", {\"x\": 16}]";
        struct jail_request r = { .stdin_data = in, .stdin_len = sizeof in - 1 };
        for (int i = 0; i < _LIMIT_MAX; i++)
                r.limits.v[i] = 3 + i;
        return r;
}

static void pair(int sv[2]) {
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

static void test_supervise_no_request(void **state) {
        int sv[2];
        pair(sv);
        close(sv[0]); /* served without an execution */
        assert_int_equal(privsep_supervise(NULL, sv[1], -1), 0);
        close(sv[1]);
}

static void test_supervise_garbage(void **state) {
        struct config *cfg;
        int sv[2];
        assert_int_equal(config_new_default(&cfg), 0);
        pair(sv);
        assert_int_equal(write(sv[0], "GET / HTTP/1.1\r\n\r\n", 18), 18);
        close(sv[0]);
        assert_int_equal(privsep_supervise(cfg, sv[1], -1), -EBADMSG);
        close(sv[1]);
        config_free(cfg);
}

static void test_supervise_truncated(void **state) {
        struct config *cfg;
        struct jail_request req = sample();
        int sv[2], mid[2];
        assert_int_equal(config_new_default(&cfg), 0);
        /* A valid request, cut short: the reader says so, runs nothing. */
        pair(mid);
        assert_int_equal(execmsg_send_request(mid[0], &req), 0);
        char buf[256];
        ssize_t n = read(mid[1], buf, sizeof buf);
        assert_true(n > 20);
        pair(sv);
        assert_int_equal(write(sv[0], buf, (size_t)n - 3), n - 3);
        close(sv[0]);
        assert_int_equal(privsep_supervise(cfg, sv[1], -1), -EBADMSG);
        close(sv[1]);
        close(mid[0]);
        close(mid[1]);
        config_free(cfg);
}

static void test_supervise_no_config_no_execution(void **state) {
        struct jail_request req = sample();
        int sv[2];
        pair(sv);
        assert_int_equal(execmsg_send_request(sv[0], &req), 0);
        close(sv[0]);
        assert_int_equal(privsep_supervise(NULL, sv[1], -1), -EMSGSIZE);
        close(sv[1]);
}

/* Well-formed, but not what this configuration allows: refused, logged,
 * nothing run (a jail would need root and a python; none is started). */
static void test_supervise_disallowed(void **state) {
        struct config *cfg;
        struct jail_request req = sample(); /* limits 3, 4, 5, ...: no context's */
        int sv[2];
        assert_int_equal(config_new_default(&cfg), 0);
        cfg->enabled = true;
        pair(sv);
        assert_int_equal(execmsg_send_request(sv[0], &req), 0);
        assert_int_equal(privsep_supervise(cfg, sv[1], -1), -EBADMSG);
        close(sv[0]);
        close(sv[1]);
        pair(sv);
        config_resolve_limits(cfg, NULL, &req.limits); /* the default context's, */
        cfg->enabled = false;                          /* on a disabled service */
        assert_int_equal(execmsg_send_request(sv[0], &req), 0);
        assert_int_equal(privsep_supervise(cfg, sv[1], -1), -EBADMSG);
        close(sv[0]);
        close(sv[1]);
        config_free(cfg);
}

/* A stand-in privileged side: reads the request, writes `reply` (an
 * outcome, or raw bytes when raw_len), closes. Exits 0 when the request
 * was the sample. */
static pid_t fake_parent(int fd, const struct execmsg_outcome *reply, const char *raw, size_t raw_len) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid > 0)
                return pid;
        struct execmsg_request got;
        char err[200];
        int ok = execmsg_recv_request(fd, 1 << 20, &got, err, sizeof err) == 0 && got.n_files == 0 &&
                 got.limits.v[LIMIT_OUTPUT] == 3 + LIMIT_OUTPUT;
        if (raw_len)
                ok &= fd_write_all(fd, raw, raw_len) == 0;
        else
                ok &= execmsg_send_outcome(fd, reply) == 0;
        _exit(ok ? 0 : 1);
}

static int reaped(pid_t pid) {
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The unprivileged side's runner against a stand-in parent answering
 * reply (or raw bytes). */
struct remote {
        int sv[2];
        pid_t parent;
        struct safeexec_runner runner;
        struct jail_result res;
        struct jail_error jerr;
};

static int remote_run(struct remote *rm, const struct execmsg_outcome *reply, const char *raw, size_t raw_len) {
        struct jail_request req = sample();
        memset(rm, 0, sizeof *rm);
        pair(rm->sv);
        rm->parent = fake_parent(rm->sv[1], reply, raw, raw_len);
        close(rm->sv[1]);
        privsep_runner(&rm->sv[0], &rm->runner);
        return rm->runner.run(rm->runner.userdata, NULL, &req, &rm->res, &rm->jerr);
}

static void test_runner_outcome(void **state) {
        struct execmsg_outcome o = { .res = { .status = 3, .out = "out", .out_len = 3, .err = "", .uid = 1234567,
                                              .limit_hit = "CPU" } };
        struct remote rm;
        assert_int_equal(remote_run(&rm, &o, NULL, 0), 0);
        assert_int_equal(rm.res.status, 3);
        assert_int_equal(rm.res.out_len, 3);
        assert_memory_equal(rm.res.out, "out", 3);
        assert_int_equal(rm.res.uid, 1234567);
        assert_string_equal(rm.res.limit_hit, "CPU");
        assert_false(rm.res.teardown.pending); /* the parent's, not ours */
        /* Returns once the parent has closed: its teardown is over. */
        rm.runner.done(rm.runner.userdata, &rm.res);
        assert_int_equal(rm.sv[0], -1);
        assert_null(rm.res.out);
        assert_int_equal(reaped(rm.parent), 0);
}

/* The execution ends apart from the answer (server.c end_execution()):
 * release hands the teardown to the parent and returns once it is over,
 * the captured output still readable; done then only frees. */
static void test_runner_release(void **state) {
        struct execmsg_outcome o = { .res = { .status = 0, .out = "{}", .out_len = 2, .err = "e", .err_len = 1 } };
        struct remote rm;
        assert_int_equal(remote_run(&rm, &o, NULL, 0), 0);
        rm.runner.release(rm.runner.userdata, &rm.res);
        assert_int_equal(rm.sv[0], -1);
        assert_int_equal(reaped(rm.parent), 0);
        assert_memory_equal(rm.res.out, "{}", 2);
        assert_memory_equal(rm.res.err, "e", 1);
        rm.runner.release(rm.runner.userdata, &rm.res); /* once is enough */
        rm.runner.done(rm.runner.userdata, &rm.res);
        assert_null(rm.res.out);
        assert_null(rm.res.err);
}

/* A stand-in parent that runs "an execution" for up to ms: exits 0 when
 * the child told it to stop (its socket ended) within that time, 1 when
 * not; answers status -9 or 0 accordingly. */
static pid_t stopping_parent(int fd, int ms) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid > 0)
                return pid;
        struct execmsg_request got;
        char err[200];
        if (execmsg_recv_request(fd, 1 << 20, &got, err, sizeof err) != 0)
                _exit(3);
        struct pollfd p = { .fd = fd, .events = POLLIN | POLLRDHUP };
        char c;
        bool stop = poll(&p, 1, ms) == 1 && read(fd, &c, 1) == 0;
        struct execmsg_outcome o = { .res = { .status = stop ? -9 : 0, .out = "{}", .out_len = 2, .err = "" } };
        if (execmsg_send_outcome(fd, &o) != 0)
                _exit(3);
        _exit(stop ? 0 : 1);
}

static uint64_t mono_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

/* The client leaves while its program runs: a FIN later than the grace
 * after its request, or a reset (here: the peer closed), stops it; a FIN
 * within the grace is a half-close, and the execution goes on. */
static void runner_with_client(bool close_peer, uint64_t request_age_ns, int expect_r, int expect_parent) {
        struct jail_request req = sample();
        struct safeexec_runner runner;
        struct jail_result res;
        struct jail_error jerr = { 0 };
        int sv[2], cl[2];
        pair(sv);
        pid_t parent = stopping_parent(sv[1], 1500);
        close(sv[1]);
        pair(cl); /* after that fork: the peer's end is the peer's only */
        struct admit_client client = { .fd = cl[0], .since_ns = mono_ns() - request_age_ns };
        req.client = &client;
        privsep_runner(&sv[0], &runner);
        pid_t peer = fork();
        assert_true(peer >= 0);
        if (peer == 0) {
                usleep(200 * 1000);
                if (close_peer)
                        close(cl[1]);
                else
                        shutdown(cl[1], SHUT_WR);
                usleep(2000 * 1000);
                _exit(0);
        }
        close(cl[1]);
        uint64_t t0 = mono_ns();
        assert_int_equal(runner.run(runner.userdata, NULL, &req, &res, &jerr), expect_r);
        uint64_t took_ms = (mono_ns() - t0) / 1000000;
        assert_int_equal(res.stopped, expect_r == -ECONNABORTED);
        assert_int_equal(reaped(parent), expect_parent);
        if (expect_parent == 0)
                assert_true(took_ms < 1000); /* at once, not at the parent's 1.5 s */
        runner.done(runner.userdata, &res);
        kill(peer, SIGKILL);
        reaped(peer);
        close(cl[0]);
}

static void test_runner_client_gone_stops(void **state) {
        /* a FIN past the grace */
        runner_with_client(false, 2000000000ull, -ECONNABORTED, 0);
        /* the peer gone altogether, even within the grace */
        runner_with_client(true, 0, -ECONNABORTED, 0);
}

static void test_runner_half_close_goes_on(void **state) {
        runner_with_client(false, 0, 0, 1);
}

static void test_runner_setup_error(void **state) {
        struct execmsg_outcome o = { .setup_error = ENOSPC, .step = "jail-dir" };
        struct remote rm;
        assert_int_equal(remote_run(&rm, &o, NULL, 0), -ENOSPC);
        assert_string_equal(rm.jerr.step, "jail-dir");
        assert_int_equal(rm.jerr.error, ENOSPC);
        assert_int_equal(reaped(rm.parent), 0);
        close(rm.sv[0]);
}

static void test_runner_garbage(void **state) {
        static const char junk[] = "HTTP/1.1 200 OK\r\n\r\n{}";
        struct remote rm;
        assert_int_equal(remote_run(&rm, NULL, junk, sizeof junk - 1), -EBADMSG);
        assert_int_equal(strncmp(rm.jerr.step, "privsep: ", 9), 0);
        assert_int_equal(rm.jerr.error, EPROTO);
        assert_int_equal(reaped(rm.parent), 0);
        close(rm.sv[0]);
}

int main(void) {
        log_set_target_stderr(1);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_supervise_no_request),
                cmocka_unit_test(test_supervise_garbage),
                cmocka_unit_test(test_supervise_truncated),
                cmocka_unit_test(test_supervise_no_config_no_execution),
                cmocka_unit_test(test_supervise_disallowed),
                cmocka_unit_test(test_runner_outcome),
                cmocka_unit_test(test_runner_release),
                cmocka_unit_test(test_runner_setup_error),
                cmocka_unit_test(test_runner_client_gone_stops),
                cmocka_unit_test(test_runner_half_close_goes_on),
                cmocka_unit_test(test_runner_garbage),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
