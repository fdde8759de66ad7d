/* SPDX-License-Identifier: Apache-2.0 */
/* safe_exec semantics through the real jail: success merge rules, emsg
 * format, corrupted stdout, limits. The jail needs root: without it
 * (a build daemon) this reports SKIP (77), naming why; tests/run-all.sh
 * runs it as root and fails when anything was skipped. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "conf.h"
#include "macro.h"
#include "payload.h"
#include "pyjson.h"
#include "safeexec.h"

static struct config *cfg;
/* A state dir of its own (the UID lock file lives there), removed after. */
static char state_dir[] = "/tmp/test-safeexec-XXXXXX";

static int setup(void **state) {
        char err[256], text[200];
        if (!mkdtemp(state_dir))
                return -1;
        snprintf(text, sizeof text, "{\"enabled\": true, \"state_dir\": \"%s\"}", state_dir);
        assert_int_equal(config_parse(text, strlen(text), &cfg, err, sizeof err), 0);
        return 0;
}

static int teardown(void **state) {
        char lock[sizeof state_dir + 32];
        snprintf(lock, sizeof lock, "%s/sandbox-uids.lock", state_dir);
        unlink(lock);
        rmdir(state_dir);
        config_free(cfg);
        return 0;
}

/* Run code with globals (JSON text); return the response as Python JSON text. */
static char *run(const char *code, const char *globals, const char *context, int *status) {
        json_auto_t *c = json_string(code);
        json_auto_t *ctx = context ? json_string(context) : json_null();
        _cleanup_free_ char *cj = pyjson_dumps(c, NULL), *xj = pyjson_dumps(ctx, NULL), *text = NULL;
        assert_true(asprintf(&text, "{\"code\": %s, \"globals_dict\": %s, \"limit_overrides_context\": %s}", cj,
                             globals, xj) > 0);
        struct payload p;
        struct payload_error perr;
        assert_int_equal(payload_parse(text, strlen(text), NULL, 0, &p, &perr), 0);
        struct safeexec_outcome o;
        struct jail_error jerr;
        int r = safeexec_run(cfg, &p, NULL, 0, &o, &jerr);
        if (r < 0)
                fail_msg("jail set-up failed at %s: %s", jerr.step, strerror(jerr.error));
        size_t n;
        char *s = safeexec_render(&o, &n);
        assert_non_null(s);
        assert_int_equal(strlen(s), n);
        /* the counting pass agrees with what is written */
        struct jsondoc_out count = { 0 };
        safeexec_write(&o, &count);
        assert_int_equal(count.total, n);
        if (status)
                *status = o.jail.status;
        safeexec_done(&o);
        payload_done(&p);
        return s;
}

static void test_x_plus_1(void **state) {
        char *s = run("x = x + 1", "{\"x\": 16}", NULL, NULL);
        assert_string_equal(s, "{\"globals_dict\": {\"x\": 17}}");
        free(s);
}

static void test_merge_keeps_deleted_and_order(void **state) {
        char *s = run("del a\nb = 'B'\nc = [1, 2.5, None]\nimport os\n", "{\"a\": 1, \"b\": 2, \"z\": NaN}", NULL, NULL);
        assert_string_equal(s, "{\"globals_dict\": {\"a\": 1, \"b\": \"B\", \"z\": NaN, \"c\": [1, 2.5, null]}}");
        free(s);
}

/* Many input keys, one repeated: each keeps its first place with its last
 * value, the output's values replace them (a replaced one skipped in the
 * input), a deleted one keeps its own, new keys come after. */
static void test_merge_many_keys(void **state) {
        char globals[4096], want[4096];
        size_t g = 0, w = 0;
        g += (size_t) sprintf(globals + g, "{");
        w += (size_t) sprintf(want + w, "{\"globals_dict\": {");
        for (int i = 0; i < 100; i++) {
                g += (size_t) sprintf(globals + g, "\"k%d\": %d, ", i, i);
                if (i == 3)
                        w += (size_t) sprintf(want + w, "\"k3\": \"new\", ");
                else if (i == 5)
                        w += (size_t) sprintf(want + w, "\"k5\": \"dup\", ");
                else if (i == 7)
                        w += (size_t) sprintf(want + w, "\"k7\": [1], ");
                else
                        w += (size_t) sprintf(want + w, "\"k%d\": %d, ", i, i);
        }
        sprintf(globals + g, "\"k5\": \"dup\", \"big\": [1, [2, {\"x\": 1, \"x\": 2}]]}");
        sprintf(want + w, "\"big\": [1, [2, {\"x\": 2}]], \"new\": 1}}");
        char *s = run("k3 = 'new'\nk7 = [1]\ndel k9\nnew = 1", globals, NULL, NULL);
        assert_string_equal(s, want);
        free(s);
}

/* Python >= 3.9 makes the script path absolute, so tracebacks name the jail
 * dir as upstream's do on the same interpreter: replace the random part. */
static void normalize_jail_dir(char *s) {
        char *p;
        while ((p = strstr(s, "/tmp/codejail-")) && strlen(p) >= 22 && p[22] == '/') {
                memcpy(p + 14, "XXXXXXXX", 8);
                s = p + 22;
        }
}

static void test_zero_division_emsg(void **state) {
        char *s = run("1/0", "{\"q\": 1}", NULL, NULL);
        normalize_jail_dir(s);
        assert_string_equal(s,
                "{\"globals_dict\": {\"q\": 1}, \"emsg\": \"Couldn't execute jailed code: stdout: b'', stderr: "
                "b'Traceback (most recent call last):\\\\n  File \\\"/tmp/codejail-XXXXXXXX/jailed_code\\\", line 19, in <module>\\\\n"
                "    exec(code, g_dict)\\\\n  File \\\"<string>\\\", line 1, in <module>\\\\n"
                "ZeroDivisionError: division by zero\\\\n' with status code: 1\"}");
        free(s);
}

static void test_corrupted_stdout(void **state) {
        char *s = run("import sys, os\nsys.__stdout__.write('garbage')\nsys.__stdout__.flush()\nos._exit(0)", "{}", NULL, NULL);
        assert_string_equal(s, "{\"globals_dict\": {}, \"emsg\": \"Sandboxed code produced corrupted stdout.\"}");
        free(s);
}

static void test_realtime_kill(void **state) {
        int status;
        char *s = run("import time\ntime.sleep(30)", "{}", NULL, &status);
        assert_int_equal(status, -9);
        assert_string_equal(s, "{\"globals_dict\": {}, \"emsg\": \"Couldn't execute jailed code: stdout: b'', "
                               "stderr: b'' with status code: -9\"}");
        free(s);
}

/* The parent (PPid) of a process, or -1. */
static pid_t parent_of(const char *pid) {
        char path[64], line[128];
        pid_t ppid = -1;
        snprintf(path, sizeof path, "/proc/%s/status", pid);
        FILE *f = fopen(path, "re");
        while (f && fgets(line, sizeof line, f))
                if (sscanf(line, "PPid: %d", &ppid) == 1)
                        break;
        if (f)
                fclose(f);
        return ppid;
}

/* A child of parent, or -1. */
static pid_t child_of(pid_t parent) {
        DIR *d = opendir("/proc");
        struct dirent *e;
        pid_t found = -1;
        while (d && found < 0 && (e = readdir(d)))
                if (e->d_name[0] >= '1' && e->d_name[0] <= '9' && parent_of(e->d_name) == parent)
                        found = atoi(e->d_name);
        if (d)
                closedir(d);
        return found;
}

struct init_fds {
        char fds[16][160]; /* "N target" */
        int n;
};

/* From outside, while the program runs: the jail's init (our child) and
 * what its descriptors are, once the program has written tmp/ready. */
static void *watch_init(void *arg) {
        struct init_fds *w = arg;
        for (int round = 0; round < 800 && w->n == 0; round++) {
                nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
                pid_t init = child_of(getpid()), prog = init > 0 ? child_of(init) : -1;
                char path[PATH_MAX], target[PATH_MAX];
                snprintf(path, sizeof path, "/proc/%d/cwd/tmp/ready", (int)prog);
                if (prog < 0 || access(path, F_OK) < 0)
                        continue;
                snprintf(path, sizeof path, "/proc/%d/fd", (int)init);
                DIR *d = opendir(path);
                struct dirent *e;
                while (d && (e = readdir(d)) && w->n < 16) {
                        if (e->d_name[0] == '.')
                                continue;
                        snprintf(path, sizeof path, "/proc/%d/fd/%s", (int)init, e->d_name);
                        ssize_t k = readlink(path, target, sizeof target - 1);
                        target[k > 0 ? k : 0] = '\0';
                        snprintf(w->fds[w->n++], sizeof w->fds[0], "%s %.140s", e->d_name, target);
                }
                if (d)
                        closedir(d);
        }
        return NULL;
}

/* The init keeps only its own descriptors (src/jail.c step 5a): stderr and
 * its control socket while the program runs -- not the UID lock, the jail
 * dir, the pidfd, stdin, stdout, nor anything else of the instance's. */
static void test_init_descriptors(void **state) {
        struct init_fds w = { .n = 0 };
        pthread_t t;
        int status;
        char err_target[PATH_MAX] = "", want_err[PATH_MAX + 8];
        ssize_t k = readlink("/proc/self/fd/2", err_target, sizeof err_target - 1);
        err_target[k > 0 ? k : 0] = '\0';
        snprintf(want_err, sizeof want_err, "2 %s", err_target);
        assert_int_equal(pthread_create(&t, NULL, watch_init, &w), 0);
        char *s = run("open('tmp/ready', 'w').close()\nimport time\ntime.sleep(1.5)\nx = 1", "{}", NULL, &status);
        assert_int_equal(pthread_join(t, NULL), 0);
        assert_string_equal(s, "{\"globals_dict\": {\"x\": 1}}");
        free(s);
        int n_err = 0, n_sock = 0;
        for (int i = 0; i < w.n; i++) {
                if (strncmp(w.fds[i], want_err, 140) == 0)
                        n_err++;
                else if (strncmp(w.fds[i] + strcspn(w.fds[i], " ") + 1, "socket:[", 8) == 0)
                        n_sock++;
                else
                        fail_msg("the init holds %s (not its own)", w.fds[i]);
        }
        if (w.n != 2 || n_err != 1 || n_sock != 1)
                fail_msg("the init holds %d descriptors (want stderr and its control socket): %s | %s", w.n,
                         w.n > 0 ? w.fds[0] : "-", w.n > 1 ? w.fds[1] : "-");
}

int main(void) {
        if (geteuid() != 0) {
                fprintf(stderr, "test-safeexec: SKIP: the jail needs root (namespaces, setresuid, mounts)\n");
                return 77;
        }
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_x_plus_1),
                cmocka_unit_test(test_merge_keeps_deleted_and_order),
                cmocka_unit_test(test_merge_many_keys),
                cmocka_unit_test(test_zero_division_emsg),
                cmocka_unit_test(test_corrupted_stdout),
                cmocka_unit_test(test_realtime_kill),
                cmocka_unit_test(test_init_descriptors),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
