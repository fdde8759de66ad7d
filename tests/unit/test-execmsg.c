/* SPDX-License-Identifier: Apache-2.0 */
/* The messages between an instance's unprivileged and privileged sides:
 * round trips over a socketpair, and the reader's refusals (each one a
 * message a compromised unprivileged side could send). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "execmsg.h"

static struct jail_request sample(struct jail_file *files) {
        static const char in[] = "[\"x = x + 1\", {\"x\": 16}]";
        files[0] = (struct jail_file){ .name = "python_lib.zip", .data = "PK\3\4zip\0bytes", .len = 13 };
        struct jail_request r = { .stdin_data = in, .stdin_len = sizeof in - 1, .n_python_path = 1,
                                  .files = files, .n_files = 1 };
        for (int i = 0; i < _LIMIT_MAX; i++)
                r.limits.v[i] = 3 + i;
        return r;
}

/* The bytes execmsg_send_request writes for req (header included). */
static char *encode(const struct jail_request *req, size_t *len) {
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        assert_int_equal(execmsg_send_request(sv[0], req), 0);
        close(sv[0]);
        char *b = malloc(1 << 16);
        ssize_t n = read(sv[1], b, 1 << 16);
        assert_true(n > 8);
        close(sv[1]);
        *len = (size_t)n;
        return b;
}

static void test_request_roundtrip(void **state) {
        struct jail_file files[1];
        struct jail_request req = sample(files);
        int sv[2];
        char err[200];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        assert_int_equal(execmsg_send_request(sv[0], &req), 0);
        struct execmsg_request got;
        assert_int_equal(execmsg_recv_request(sv[1], 1 << 20, &got, err, sizeof err), 0);
        assert_int_equal(got.stdin_len, req.stdin_len);
        assert_memory_equal(got.stdin_data, req.stdin_data, req.stdin_len);
        assert_int_equal(got.n_python_path, 1);
        assert_int_equal(got.n_files, 1);
        assert_string_equal(got.files[0].name, "python_lib.zip");
        assert_int_equal(got.files[0].len, 13);
        assert_memory_equal(got.files[0].data, "PK\3\4zip\0bytes", 13);
        for (int i = 0; i < _LIMIT_MAX; i++)
                assert_int_equal(got.limits.v[i], 3 + i);
        execmsg_request_done(&got);
        close(sv[0]);
        close(sv[1]);
}

/* Mutations of a good message, each refused with a reason. */
static void test_request_refusals(void **state) {
        struct jail_file files[EXECMSG_MAX_FILES + 1];
        struct jail_request req = sample(files);
        size_t len;
        char err[200];
        struct execmsg_request got;

        /* a body cut anywhere, or with a byte more */
        char *good = encode(&req, &len);
        for (size_t cut = 8; cut < len; cut++) {
                char *b = malloc(cut - 8 + 1);
                memcpy(b, good + 8, cut - 8);
                err[0] = '\0';
                assert_int_equal(execmsg_parse_request(b, cut - 8, &got, err, sizeof err), -EBADMSG);
                assert_true(err[0]);
        }
        char *b = malloc(len - 8 + 1);
        memcpy(b, good + 8, len - 8);
        b[len - 8] = 'x';
        assert_int_equal(execmsg_parse_request(b, len - 8 + 1, &got, err, sizeof err), -EBADMSG);
        assert_non_null(strstr(err, "after the last field"));
        free(good);

        /* names that would leave the jail dir, repeat, or be empty */
        static const char *const names[] = { "../jailed_code", "a/b", ".", "..", "" };
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
                files[0].name = names[i];
                good = encode(&req, &len);
                b = malloc(len - 8);
                memcpy(b, good + 8, len - 8);
                assert_int_equal(execmsg_parse_request(b, len - 8, &got, err, sizeof err), -EBADMSG);
                assert_non_null(strstr(err, "plain name"));
                free(good);
        }
        /* a NUL inside a name (the encoder cannot write one: patch it in) */
        files[0].name = "python_lib.zip";
        good = encode(&req, &len);
        char *at = memmem(good, len, "python_lib.zip", 14);
        assert_non_null(at);
        at[6] = '\0';
        b = malloc(len - 8);
        memcpy(b, good + 8, len - 8);
        assert_int_equal(execmsg_parse_request(b, len - 8, &got, err, sizeof err), -EBADMSG);
        free(good);
        files[1] = files[0];
        req.n_files = 2;
        good = encode(&req, &len);
        b = malloc(len - 8);
        memcpy(b, good + 8, len - 8);
        assert_int_equal(execmsg_parse_request(b, len - 8, &got, err, sizeof err), -EBADMSG);
        assert_non_null(strstr(err, "duplicate"));
        free(good);

        /* too many files, an out-of-range limit, too many python_path lines */
        for (size_t i = 0; i <= EXECMSG_MAX_FILES; i++)
                files[i] = (struct jail_file){ .name = "f", .data = "", .len = 0 };
        req.n_files = EXECMSG_MAX_FILES + 1;
        good = encode(&req, &len);
        b = malloc(len - 8);
        memcpy(b, good + 8, len - 8);
        assert_int_equal(execmsg_parse_request(b, len - 8, &got, err, sizeof err), -EBADMSG);
        free(good);
        req = sample(files);
        req.limits.v[LIMIT_TMPFS] = 0;
        good = encode(&req, &len);
        b = malloc(len - 8);
        memcpy(b, good + 8, len - 8);
        assert_int_equal(execmsg_parse_request(b, len - 8, &got, err, sizeof err), -EBADMSG);
        assert_non_null(strstr(err, "TMPFS"));
        free(good);
        req = sample(files);
        req.n_python_path = 1025;
        good = encode(&req, &len);
        b = malloc(len - 8);
        memcpy(b, good + 8, len - 8);
        assert_int_equal(execmsg_parse_request(b, len - 8, &got, err, sizeof err), -EBADMSG);
        free(good);
}

static void test_request_framing(void **state) {
        struct jail_file files[1];
        struct jail_request req = sample(files);
        int sv[2];
        char err[200];
        struct execmsg_request got;
        /* over the reader's bound: refused before anything is allocated */
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        assert_int_equal(execmsg_send_request(sv[0], &req), 0);
        assert_int_equal(execmsg_recv_request(sv[1], 16, &got, err, sizeof err), -EMSGSIZE);
        close(sv[0]);
        close(sv[1]);
        /* a wrong magic; the peer gone mid-header */
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        assert_int_equal(write(sv[0], "XXXX\0\0\0\0", 8), 8);
        assert_int_equal(execmsg_recv_request(sv[1], 1 << 20, &got, err, sizeof err), -EBADMSG);
        assert_int_equal(write(sv[0], "CJ", 2), 2);
        close(sv[0]);
        assert_int_equal(execmsg_recv_request(sv[1], 1 << 20, &got, err, sizeof err), -EBADMSG);
        close(sv[1]);
        /* no message at all: told apart from a cut one */
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        close(sv[0]);
        assert_int_equal(execmsg_recv_request(sv[1], 1 << 20, &got, err, sizeof err), -ENODATA);
        close(sv[1]);
}

static void test_outcome_roundtrip(void **state) {
        struct execmsg_outcome o = { .setup_error = 0 };
        o.res = (struct jail_result){ .status = -24, .uid = 1234567890u, .duration_ms = 5, .cpu_ms = 3000,
                                      .maxrss_kb = 9000, .limit_hit = "CPU" };
        snprintf(o.res.apparmor_label, sizeof o.res.apparmor_label, "codejail-service//&codejail-sandbox (enforce)");
        o.res.out = "out\0put", o.res.out_len = 7;
        o.res.err = "Traceback", o.res.err_len = 9;
        int sv[2];
        char err[200];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        assert_int_equal(execmsg_send_outcome(sv[0], &o), 0);
        struct execmsg_outcome got;
        assert_int_equal(execmsg_recv_outcome(sv[1], 1 << 20, &got, err, sizeof err), 0);
        assert_int_equal(got.setup_error, 0);
        assert_int_equal(got.res.status, -24);
        assert_int_equal(got.res.uid, 1234567890u);
        assert_int_equal(got.res.cpu_ms, 3000);
        assert_string_equal(got.res.limit_hit, "CPU");
        assert_string_equal(got.res.apparmor_label, o.res.apparmor_label);
        assert_int_equal(got.res.out_len, 7);
        assert_memory_equal(got.res.out, "out\0put", 7);
        assert_string_equal(got.res.err, "Traceback");
        execmsg_outcome_done(&got);

        /* a set-up failure travels with its step */
        struct execmsg_outcome f = { .setup_error = EPERM };
        snprintf(f.step, sizeof f.step, "pivot-root");
        f.res.out = f.res.err = "";
        assert_int_equal(execmsg_send_outcome(sv[0], &f), 0);
        assert_int_equal(execmsg_recv_outcome(sv[1], 1 << 20, &got, err, sizeof err), 0);
        assert_int_equal(got.setup_error, EPERM);
        assert_string_equal(got.step, "pivot-root");
        assert_null(got.res.limit_hit);
        execmsg_outcome_done(&got);
        close(sv[0]);
        close(sv[1]);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_request_roundtrip),
                cmocka_unit_test(test_request_refusals),
                cmocka_unit_test(test_request_framing),
                cmocka_unit_test(test_outcome_roundtrip),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
