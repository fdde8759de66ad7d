/* SPDX-License-Identifier: Apache-2.0 */
/* pyjson: data-driven cases generated from CPython 3.11 (tests/data/pyjson,
 * see generate.py there) plus API checks. */
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
#include "pyjson.h"
#include "pyrepr.h"

static char *read_file(const char *path, size_t *len) {
        FILE *f = fopen(path, "rb");
        char *buf = NULL;
        size_t cap = 0, n = 0;

        if (!f)
                return NULL;
        for (;;) {
                if (n + 4096 + 1 > cap) {
                        cap = (n + 4096 + 1) * 2;
                        buf = realloc(buf, cap);
                        assert_non_null(buf);
                }
                size_t r = fread(buf + n, 1, 4096, f);
                n += r;
                if (r == 0)
                        break;
        }
        fclose(f);
        buf[n] = '\0';
        *len = n;
        return buf;
}

static int cmpstr(const void *a, const void *b) { return strcmp(*(char *const *) a, *(char *const *) b); }

static void test_data_cases(void **state) {
        const char *dir = TEST_DATA_DIR "/pyjson";
        DIR *d = opendir(dir);
        struct dirent *de;
        char *names[4096];
        size_t n = 0, failed = 0;

        assert_non_null(d);
        while ((de = readdir(d)) && n < ELEMENTSOF(names)) {
                if (de->d_name[0] == '.' || strstr(de->d_name, ".py"))
                        continue;
                names[n++] = strdup(de->d_name);
        }
        closedir(d);
        qsort(names, n, sizeof(char *), cmpstr);
        assert_true(n > 100);

        for (size_t i = 0; i < n; i++) {
                char path[4096], *actual = NULL;
                _cleanup_free_ char *input = NULL, *expected = NULL;
                size_t ilen, elen;
                struct pyjson_error err;
                json_t *v;

                snprintf(path, sizeof(path), "%s/%s/input", dir, names[i]);
                input = read_file(path, &ilen);
                snprintf(path, sizeof(path), "%s/%s/expected", dir, names[i]);
                expected = read_file(path, &elen);
                assert_non_null(input);
                assert_non_null(expected);

                v = pyjson_loads(input, ilen, 100000, &err);
                if (!v) {
                        assert_int_equal(errno, EINVAL);
                        assert_true(asprintf(&actual, "error: %s\n", err.text) > 0);
                } else {
                        _cleanup_free_ char *dumped = pyjson_dumps(v, NULL);
                        _cleanup_free_ char *repr = pyrepr_value(v);
                        assert_non_null(dumped);
                        assert_non_null(repr);
                        assert_true(asprintf(&actual, "dumps: %s\nrepr: %s\n", dumped, repr) > 0);
                        json_decref(v);
                }
                if (strcmp(actual, expected) != 0) {
                        fprintf(stderr, "case %s:\n  expected: %s  actual:   %s", names[i], expected, actual);
                        failed++;
                }
                free(actual);
                free(names[i]);
        }
        fprintf(stderr, "%zu data cases, %zu failed\n", n, failed);
        assert_int_equal(failed, 0);
}

static char *nested(size_t depth, char open, char close) {
        char *s = malloc(2 * depth + 1);
        assert_non_null(s);
        memset(s, open, depth);
        memset(s + depth, close, depth);
        s[2 * depth] = '\0';
        return s;
}

static void test_depth(void **state) {
        struct pyjson_error err;
        _cleanup_free_ char *deep = nested(100000, '[', ']');
        _cleanup_free_ char *ok = nested(512, '[', ']');
        json_t *v;

        assert_null(pyjson_loads(deep, strlen(deep), 512, &err));
        assert_int_equal(errno, EINVAL);
        assert_string_equal(err.text,
                            "maximum recursion depth exceeded while decoding a JSON array from a unicode string");
        /* iterative: even without a limit no stack overflow */
        v = pyjson_loads(deep, strlen(deep), SIZE_MAX, &err);
        assert_non_null(v);
        json_decref(v);

        v = pyjson_loads(ok, strlen(ok), 512, &err);
        assert_non_null(v);
        json_decref(v);
        assert_null(pyjson_loads(ok, strlen(ok), 511, &err));
        assert_null(pyjson_loads("{}", 2, 0, &err));
        assert_string_equal(err.text,
                            "maximum recursion depth exceeded while decoding a JSON object from a unicode string");
        v = pyjson_loads("1", 1, 0, &err);
        assert_non_null(v);
        json_decref(v);

        /* unclosed deep input fails cleanly and frees everything */
        assert_null(pyjson_loads(deep, 100000, SIZE_MAX, &err));
        assert_string_equal(err.text, "Expecting value: line 1 column 100001 (char 100000)");
        assert_null(pyjson_loads("[{\"a\": [{\"b\": [", 15, 100, &err));
}

static void test_raw(void **state) {
        json_t *v, *fake;
        _cleanup_free_ char *s = NULL;

        v = pyjson_raw_new("NaN");
        assert_true(pyjson_is_raw(v));
        assert_string_equal(pyjson_raw_text(v), "NaN");
        json_decref(v);
        v = pyjson_raw_new("-123456789012345678901234567890");
        assert_non_null(v);
        json_decref(v);
        v = pyjson_raw_new("1.5e+300");
        assert_non_null(v);
        json_decref(v);
        assert_null(pyjson_raw_new("nan"));
        assert_null(pyjson_raw_new("1, 2"));
        assert_null(pyjson_raw_new(""));
        assert_null(pyjson_raw_new("01"));
        assert_null(pyjson_raw_new("Infinity "));
        assert_null(pyjson_raw_new(NULL));
        assert_false(pyjson_is_raw(NULL));
        assert_null(pyjson_raw_text(json_null()));

        /* an ordinary object is never raw, even with a marker-like key */
        fake = json_pack("{s:s}", "\\u0000pyjson-raw:00", "1");
        assert_false(pyjson_is_raw(fake));
        json_decref(fake);

        v = json_pack("{s:o,s:o,s:o}", "a", pyjson_raw_new("Infinity"), "b", pyjson_raw_new("-Infinity"), "c",
                      pyjson_raw_new("99999999999999999999"));
        s = pyjson_dumps(v, NULL);
        assert_string_equal(s, "{\"a\": Infinity, \"b\": -Infinity, \"c\": 99999999999999999999}");
        json_decref(v);
}

static void test_dumps(void **state) {
        json_t *v = json_pack("{s:i,s:f,s:f,s:b,s:n,s:[s,o]}", "i", 5, "f", 100000.0, "g", 1e16, "t", 1, "n", "l",
                              "\xf0\x9f\x98\x80", json_stringn_nocheck("\xed\xa0\x80", 3));
        size_t len = 0;
        _cleanup_free_ char *s = pyjson_dumps(v, &len);

        assert_string_equal(s, "{\"i\": 5, \"f\": 100000.0, \"g\": 1e+16, \"t\": true, \"n\": null, "
                               "\"l\": [\"\\ud83d\\ude00\", \"\\ud800\"]}");
        assert_int_equal(len, strlen(s));
        json_decref(v);

        /* not generalized UTF-8: refused, not emitted */
        v = json_stringn_nocheck("\xff", 1);
        assert_null(pyjson_dumps(v, NULL));
        assert_int_equal(errno, EINVAL);
        json_decref(v);
        assert_null(pyjson_dumps(NULL, NULL));
}

static void test_format_double(void **state) {
        static const struct {
                double d;
                const char *s;
        } t[] = {
                { 0.0, "0.0" },        { -0.0, "-0.0" },     { 1.0, "1.0" },           { 0.1, "0.1" },
                { 1e16, "1e+16" },     { 1e15, "1000000000000000.0" }, { 1e-5, "1e-05" }, { 1e-4, "0.0001" },
                { 1.5e300, "1.5e+300" }, { 5e-324, "5e-324" }, { 123.456, "123.456" }, { 1e22, "1e+22" },
                { 1.7976931348623157e308, "1.7976931348623157e+308" }, { 2.5e-7, "2.5e-07" },
        };
        char buf[PYJSON_DOUBLE_BUFSZ];

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                pyjson_format_double(t[i].d, buf);
                assert_string_equal(buf, t[i].s);
        }
}

static void test_dup_keys(void **state) {
        struct pyjson_error err;
        json_t *v = pyjson_loads("{\"a\": 1, \"b\": 2, \"a\": {\"x\": 3}}", 31, 10, &err);
        _cleanup_free_ char *s = NULL;

        assert_non_null(v);
        s = pyjson_dumps(v, NULL);
        assert_string_equal(s, "{\"a\": {\"x\": 3}, \"b\": 2}");
        json_decref(v);
}

/* Keys holding NUL stay whole through a copy, as Python keeps them
 * (jansson 2.14's json_copy measures keys with strlen). */
static void test_object_copy_nul_keys(void **state) {
        static const char in[] = "{\"a\\u0000b\": 1, \"a\": 2, \"\\u0000\": [3]}";
        struct pyjson_error err;
        json_t *v = pyjson_loads(in, sizeof in - 1, 10, &err);
        assert_non_null(v);
        json_t *c = pyjson_object_copy(v);
        assert_non_null(c);
        _cleanup_free_ char *s = pyjson_dumps(c, NULL);
        assert_string_equal(s, "{\"a\\u0000b\": 1, \"a\": 2, \"\\u0000\": [3]}");
        /* shallow: values are shared, not copied */
        assert_ptr_equal(json_object_getn(c, "\0", 1), json_object_getn(v, "\0", 1));
        json_t *arr = json_array();
        assert_null(pyjson_object_copy(arr));
        json_decref(arr);
        json_decref(c);
        json_decref(v);
}

static void test_utf8_next(void **state) {
        uint32_t cp;

        assert_int_equal(pyjson_utf8_next("\xed\xa0\x80", 3, &cp), 3);
        assert_int_equal(cp, 0xD800);
        assert_int_equal(pyjson_utf8_next("\xf4\x90\x80\x80", 4, &cp), 0);
        assert_int_equal(pyjson_utf8_next("\xc0\x80", 2, &cp), 0);
        assert_int_equal(pyjson_utf8_next("\xe4\xb8", 2, &cp), 0);
        assert_int_equal(pyjson_utf8_next("", 0, &cp), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_data_cases), cmocka_unit_test(test_depth),
                cmocka_unit_test(test_raw),        cmocka_unit_test(test_dumps),
                cmocka_unit_test(test_format_double), cmocka_unit_test(test_dup_keys),
                cmocka_unit_test(test_utf8_next),  cmocka_unit_test(test_object_copy_nul_keys),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
