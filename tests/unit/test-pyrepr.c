/* SPDX-License-Identifier: Apache-2.0 */
/* pyrepr: repr(bytes) cases generated from CPython 3.11 (tests/data/pyrepr)
 * and repr() of JSON values. repr() of str is also covered by every
 * tests/data/pyjson case (its "repr:" line). */
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
        char *buf;
        size_t n;

        if (!f)
                return NULL;
        buf = malloc(65536 + 1);
        assert_non_null(buf);
        n = fread(buf, 1, 65536, f);
        fclose(f);
        buf[n] = '\0';
        *len = n;
        return buf;
}

static void test_bytes_cases(void **state) {
        const char *dir = TEST_DATA_DIR "/pyrepr";
        DIR *d = opendir(dir);
        struct dirent *de;
        size_t n = 0, failed = 0;

        assert_non_null(d);
        while ((de = readdir(d))) {
                char path[4096];
                _cleanup_free_ char *input = NULL, *expected = NULL, *actual = NULL;
                size_t ilen, elen;

                if (de->d_name[0] == '.' || strstr(de->d_name, ".py"))
                        continue;
                snprintf(path, sizeof(path), "%s/%s/input", dir, de->d_name);
                input = read_file(path, &ilen);
                snprintf(path, sizeof(path), "%s/%s/expected", dir, de->d_name);
                expected = read_file(path, &elen);
                assert_non_null(input);
                assert_non_null(expected);
                actual = pyrepr_bytes(input, ilen);
                assert_non_null(actual);
                if (strcmp(actual, expected) != 0) {
                        fprintf(stderr, "case %s:\n  expected %s\n  actual   %s\n", de->d_name, expected, actual);
                        failed++;
                }
                n++;
        }
        closedir(d);
        fprintf(stderr, "%zu bytes cases, %zu failed\n", n, failed);
        assert_true(n > 50);
        assert_int_equal(failed, 0);
}

static void test_bytes_simple(void **state) {
        _cleanup_free_ char *a = pyrepr_bytes("", 0), *b = pyrepr_bytes(NULL, 0), *c = pyrepr_bytes("a'b", 3),
                            *e = pyrepr_bytes("a'\"b", 4), *f = pyrepr_bytes("\x00\xff\\", 3);

        assert_string_equal(a, "b''");
        assert_string_equal(b, "b''");
        assert_string_equal(c, "b\"a'b\"");
        assert_string_equal(e, "b'a\\'\"b'");
        assert_string_equal(f, "b'\\x00\\xff\\\\'");
}

static void check_value(const char *json, const char *expected) {
        struct pyjson_error err;
        json_t *v = pyjson_loads(json, strlen(json), 100, &err);
        _cleanup_free_ char *r = NULL;

        assert_non_null(v);
        r = pyrepr_value(v);
        assert_non_null(r);
        assert_string_equal(r, expected);
        json_decref(v);
}

static void test_values(void **state) {
        check_value("null", "None");
        check_value("[true, false]", "[True, False]");
        check_value("[NaN, Infinity, -Infinity]", "[nan, inf, -inf]");
        check_value("123456789012345678901234567890", "123456789012345678901234567890");
        check_value("[1.5, {\"a\": null, \"b\": true}, -0.0, 1e16]", "[1.5, {'a': None, 'b': True}, -0.0, 1e+16]");
        check_value("\"it's\"", "\"it's\"");
        check_value("\"\\ud800\\u00e9\\u0000\"", "'\\ud800\xc3\xa9\\x00'");
        check_value("{}", "{}");
        check_value("[]", "[]");
}

static void test_raw_float_text(void **state) {
        json_t *v = pyjson_raw_new("1.50e2");
        _cleanup_free_ char *r = pyrepr_value(v);

        assert_string_equal(r, "150.0");
        json_decref(v);
}

static void test_truncation(void **state) {
        json_t *v = json_array();
        bool truncated = false;
        _cleanup_free_ char *r = NULL, *full = NULL;

        for (int i = 0; i < 1000; i++)
                json_array_append_new(v, json_string("\xc3\xa9\xc3\xa9"));
        r = pyrepr_value_max(v, 100, &truncated);
        assert_non_null(r);
        assert_true(truncated);
        assert_true(strlen(r) <= 100);
        /* never a split UTF-8 sequence */
        assert_true(strlen(r) >= 95);
        assert_int_not_equal((unsigned char) r[strlen(r) - 1], 0xc3);
        full = pyrepr_value_max(v, SIZE_MAX, &truncated);
        assert_false(truncated);
        assert_int_equal(strlen(full), 2 + 1000 * 6 + 999 * 2);
        json_decref(v);
        assert_null(pyrepr_value(NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bytes_cases), cmocka_unit_test(test_bytes_simple),
                cmocka_unit_test(test_values),      cmocka_unit_test(test_raw_float_text),
                cmocka_unit_test(test_truncation),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
