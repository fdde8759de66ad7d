/* SPDX-License-Identifier: Apache-2.0 */
/* payload: README "API" checks 4-8. Data cases in tests/data/payload (see
 * generate.py: JSON errors and repr() from CPython 3.11, the schema step
 * modelled on jsonschema's best_match), plus field extraction. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "macro.h"
#include "jsondoc.h"
#include "payload.h"
#include "sha256.h"
#include "wrapper.h"
#include "pyjson.h"

static char *read_file(const char *path, size_t *len) {
        FILE *f = fopen(path, "rb");
        char *buf;
        size_t n;

        if (!f)
                return NULL;
        buf = malloc(1 << 20);
        assert_non_null(buf);
        n = fread(buf, 1, (1 << 20) - 1, f);
        fclose(f);
        buf[n] = '\0';
        *len = n;
        return buf;
}

static void test_data_cases(void **state) {
        const char *dir = TEST_DATA_DIR "/payload";
        DIR *d = opendir(dir);
        struct dirent *de;
        size_t n = 0, failed = 0;

        assert_non_null(d);
        while ((de = readdir(d))) {
                char path[4096], *names[16];
                _cleanup_free_ char *input = NULL, *expected = NULL, *files = NULL, *actual = NULL;
                size_t ilen, elen, flen, n_files = 0;
                struct payload p = {};
                struct payload_error err = {};
                int r;

                if (de->d_name[0] == '.' || strstr(de->d_name, ".py"))
                        continue;
                snprintf(path, sizeof(path), "%s/%s/input", dir, de->d_name);
                input = read_file(path, &ilen);
                snprintf(path, sizeof(path), "%s/%s/expected", dir, de->d_name);
                expected = read_file(path, &elen);
                snprintf(path, sizeof(path), "%s/%s/files", dir, de->d_name);
                files = read_file(path, &flen);
                assert_non_null(input);
                assert_non_null(expected);
                for (char *s = files, *nl; s && *s && n_files < ELEMENTSOF(names); s = nl + 1) {
                        nl = strchr(s, '\n');
                        assert_non_null(nl);
                        *nl = '\0';
                        names[n_files++] = s;
                }

                r = payload_parse(input, ilen, (const char *const *) names, n_files, &p, &err);
                if (r == 0) {
                        actual = strdup("ok\n");
                        assert_int_equal(jsondoc_type(&p.doc, p.code_at), JSONDOC_STRING);
                        assert_int_equal(jsondoc_type(&p.doc, p.globals_at), JSONDOC_OBJECT);
                        payload_done(&p);
                } else {
                        assert_int_equal(r, -EINVAL);
                        assert_int_equal(err.http_status, 400);
                        assert_true(asprintf(&actual, "%s\n%s\n", err.log_status, err.message) > 0);
                }
                if (strcmp(actual, expected) != 0) {
                        fprintf(stderr, "case %s:\n  expected: %s  actual:   %s", de->d_name, expected, actual);
                        failed++;
                }
                n++;
        }
        closedir(d);
        fprintf(stderr, "%zu payload cases, %zu failed\n", n, failed);
        assert_true(n > 40);
        assert_int_equal(failed, 0);
}

/* More python_path entries than the wrapper writes lines for: a 400
 * decided here, before any jail exists (it used to fail the jail set-up
 * with ENOMEM: 500, "not correctly configured"). */
static void test_python_path_limit(void **state) {
        for (size_t n = WRAPPER_MAX_PYTHON_PATH; n <= WRAPPER_MAX_PYTHON_PATH + 1; n++) {
                size_t cap = 64 + n * 18;
                _cleanup_free_ char *text = malloc(cap);
                size_t len = (size_t)snprintf(text, cap, "{\"code\": \"\", \"globals_dict\": {}, \"python_path\": [");
                for (size_t i = 0; i < n; i++)
                        len += (size_t)snprintf(text + len, cap - len, "%s\"python_lib.zip\"", i ? "," : "");
                len += (size_t)snprintf(text + len, cap - len, "]}");
                struct payload p;
                struct payload_error err;
                int r = payload_parse(text, len, NULL, 0, &p, &err);
                if (n == WRAPPER_MAX_PYTHON_PATH) {
                        assert_int_equal(r, 0);
                        assert_int_equal(p.n_python_path, n);
                        payload_done(&p);
                } else {
                        assert_int_equal(r, -EINVAL);
                        assert_int_equal(err.http_status, 400);
                        assert_string_equal(err.log_status, "invalid.python_path");
                        assert_string_equal(err.message, "Too many entries in 'python_path': at most 1024");
                }
        }
}

static void test_fields(void **state) {
        static const char text[] = "{\"code\": \"print(1)\\u0000x\", \"globals_dict\": {\"a\": NaN}, "
                                   "\"python_path\": [\"python_lib.zip\", \"python_lib.zip\"], "
                                   "\"limit_overrides_context\": \"ctx\", \"slug\": null, \"unsafely\": false}";
        const char *files[] = { "python_lib.zip" };
        struct payload p;
        struct payload_error err;
        _cleanup_free_ char *g = NULL;

        assert_int_equal(payload_parse(text, strlen(text), files, 1, &p, &err), 0);
        size_t code_len;
        _cleanup_free_ char *code = jsondoc_string_dup(&p.doc, p.code_at, &code_len);
        assert_int_equal(code_len, 10);
        assert_memory_equal(code, "print(1)\0x", 10);
        char sha[65], want[65];
        payload_code_sha256(&p, sha);
        sha256_hex("print(1)\0x", 10, want);
        assert_string_equal(sha, want);
        assert_int_equal(p.n_python_path, 2);
        assert_string_equal(p.limits_context, "ctx");
        assert_int_equal(p.limits_context_len, 3);
        assert_null(p.slug);
        assert_false(p.unsafely);
        struct jsondoc_out o;
        jsondoc_out_init_memory(&o);
        jsondoc_dump(&p.doc, p.globals_at, &o);
        g = jsondoc_out_take(&o, NULL);
        assert_string_equal(g, "{\"a\": NaN}");
        payload_done(&p);
        assert_null(p.doc.text);

        /* A NUL in a name is one of its bytes, not its end. */
        static const char nul[] = "{\"code\": \"\", \"globals_dict\": {}, \"limit_overrides_context\": \"long\\u0000x\", "
                                  "\"slug\": \"s\\u0000\"}";
        assert_int_equal(payload_parse(nul, strlen(nul), NULL, 0, &p, &err), 0);
        assert_int_equal(p.limits_context_len, 6);
        assert_memory_equal(p.limits_context, "long\0x", 6);
        assert_int_equal(p.slug_len, 2);
        payload_done(&p);
        payload_done(&p);
        payload_done(NULL);
}

static void test_long_repr_truncated(void **state) {
        struct payload p;
        struct payload_error err;
        _cleanup_free_ char *text = malloc(200000);
        size_t n;

        assert_non_null(text);
        n = (size_t) sprintf(text, "{\"code\": \"\", \"globals_dict\": [");
        for (int i = 0; i < 10000; i++)
                n += (size_t) sprintf(text + n, "%s\"\\u00e9%d\"", i ? ", " : "", i);
        n += (size_t) sprintf(text + n, "]}");
        assert_int_equal(payload_parse(text, n, NULL, 0, &p, &err), -EINVAL);
        assert_string_equal(err.log_status, "invalid.payload.schema_mismatch");
        assert_true(strncmp(err.message,
                            "Payload JSON did not match schema at path $.globals_dict: ['\xc3\xa9" "0', '\xc3\xa9" "1', ",
                            70) == 0);
        assert_true(strlen(err.message) < sizeof(err.message));
}

static void test_args(void **state) {
        struct payload p;
        struct payload_error err;

        assert_int_equal(payload_parse(NULL, 5, NULL, 0, &p, &err), -EINVAL);
        assert_int_equal(payload_parse("{}", 2, NULL, 1, &p, &err), -EINVAL);
        assert_int_equal(payload_parse(NULL, 0, NULL, 0, &p, &err), -EINVAL);
        assert_string_equal(err.message, "Unable to parse payload JSON: Expecting value: line 1 column 1 (char 0)");
        assert_string_equal(err.log_status, "invalid.payload.bad_json");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_data_cases),
                cmocka_unit_test(test_fields), cmocka_unit_test(test_python_path_limit),
                cmocka_unit_test(test_long_repr_truncated),
                cmocka_unit_test(test_args),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
