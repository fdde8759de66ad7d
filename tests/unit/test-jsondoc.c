/* SPDX-License-Identifier: Apache-2.0 */
/* jsondoc: a document kept as its text must read as the tree pyjson_loads
 * builds from it. Every case of tests/data/pyjson (generated from CPython)
 * through both: the same error text, the same dumps() bytes, the same
 * repr(); then duplicate keys (nested, spelled with escapes), the member
 * iterator, pruned trees, the output buffer, and a seeded stream of random
 * documents compared both ways. */
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

#include "jsondoc.h"
#include "macro.h"
#include "pyjson.h"
#include "pyrepr.h"
#include "siphash.h"

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

/* "dumps: ...\nrepr: ...\n" or "error: ...\n", as test-pyjson writes it,
 * from the text representation. The input is copied to an exact-size
 * buffer so that a read past its end is a sanitizer error. */
static char *describe_doc(const char *input, size_t ilen) {
        char *text = malloc(ilen ? ilen : 1), *actual = NULL;
        struct jsondoc d;
        struct pyjson_error err;

        assert_non_null(text);
        memcpy(text, input, ilen);
        int r = jsondoc_parse(&d, text, ilen, 100000, &err);
        if (r < 0) {
                assert_int_equal(r, -EINVAL);
                assert_true(asprintf(&actual, "error: %s\n", err.text) > 0);
        } else {
                struct jsondoc_out o;
                size_t n;
                jsondoc_out_init_memory(&o);
                assert_int_equal(jsondoc_dump(&d, d.root, &o), jsondoc_skip(&d, d.root));
                _cleanup_free_ char *dumped = jsondoc_out_take(&o, &n);
                assert_non_null(dumped);
                assert_int_equal(strlen(dumped), n);
                assert_int_equal(o.total, n);
                bool pruned = true;
                json_t *v = jsondoc_load(&d, d.root, SIZE_MAX, &pruned);
                assert_non_null(v);
                assert_false(pruned);
                _cleanup_free_ char *repr = pyrepr_value(v);
                assert_non_null(repr);
                json_decref(v);
                assert_true(asprintf(&actual, "dumps: %s\nrepr: %s\n", dumped, repr) > 0);
                jsondoc_done(&d);
        }
        free(text);
        return actual;
}

/* The same from the tree. */
static char *describe_tree(const char *input, size_t ilen) {
        struct pyjson_error err;
        char *actual = NULL;
        json_t *v = pyjson_loads(input, ilen, 100000, &err);
        if (!v) {
                assert_true(asprintf(&actual, "error: %s\n", err.text) > 0);
                return actual;
        }
        _cleanup_free_ char *dumped = pyjson_dumps(v, NULL);
        _cleanup_free_ char *repr = pyrepr_value(v);
        assert_non_null(dumped);
        assert_non_null(repr);
        json_decref(v);
        assert_true(asprintf(&actual, "dumps: %s\nrepr: %s\n", dumped, repr) > 0);
        return actual;
}

static int cmpstr(const void *a, const void *b) { return strcmp(*(char *const *) a, *(char *const *) b); }

static void test_data_cases(void **state) {
        const char *dir = TEST_DATA_DIR "/pyjson";
        DIR *dd = opendir(dir);
        struct dirent *de;
        char *names[4096];
        size_t n = 0, failed = 0;

        assert_non_null(dd);
        while ((de = readdir(dd)) && n < ELEMENTSOF(names)) {
                if (de->d_name[0] == '.' || strstr(de->d_name, ".py"))
                        continue;
                names[n++] = strdup(de->d_name);
        }
        closedir(dd);
        qsort(names, n, sizeof(char *), cmpstr);
        assert_true(n > 100);

        for (size_t i = 0; i < n; i++) {
                char path[4096];
                _cleanup_free_ char *input = NULL, *expected = NULL, *actual = NULL;
                size_t ilen, elen;

                snprintf(path, sizeof(path), "%s/%s/input", dir, names[i]);
                input = read_file(path, &ilen);
                snprintf(path, sizeof(path), "%s/%s/expected", dir, names[i]);
                expected = read_file(path, &elen);
                assert_non_null(input);
                assert_non_null(expected);
                actual = describe_doc(input, ilen);
                if (strcmp(actual, expected) != 0) {
                        fprintf(stderr, "case %s:\n  expected: %s  actual:   %s", names[i], expected, actual);
                        failed++;
                }
                free(names[i]);
        }
        fprintf(stderr, "%zu data cases, %zu failed\n", n, failed);
        assert_int_equal(failed, 0);
}

static void same(const char *text) {
        _cleanup_free_ char *a = describe_doc(text, strlen(text));
        _cleanup_free_ char *b = describe_tree(text, strlen(text));
        if (strcmp(a, b) != 0)
                fprintf(stderr, "input %s\n  tree: %s  text: %s", text, b, a);
        assert_string_equal(a, b);
}

static void test_duplicate_keys(void **state) {
        same("{\"a\": 1, \"b\": 2, \"a\": 3}");
        same("{\"a\": 1, \"\\u0061\": 2}");                         /* the same key, spelled twice */
        same("{\"\\ud800\": 1, \"\\ud800\": 2, \"\\ud800\\udc00\": 3}"); /* lone surrogates, a pair */
        same("{\"a\": {\"x\": 1, \"x\": [1, {\"y\": 0, \"y\": 1}]}, \"b\": 0, \"a\": {\"z\": 2, \"z\": 3}}");
        same("[{\"k\": 0, \"k\": 1}, {\"k\": 2}, {\"k\": 3, \"j\": 4, \"k\": 5}]");
        same("{\"\": 0, \"\": 1, \"a\\u0000b\": 2, \"a\\u0000c\": 3, \"a\\u0000b\": 4}");
        same("{\"\xff\": 1, \"\xfe\": 2}"); /* both U+FFFD: one key */
        /* many keys: the index grows, repeated keys found after it did */
        char *big = malloc(200000);
        size_t o = 0;
        o += (size_t) sprintf(big + o, "{");
        for (int i = 0; i < 3000; i++)
                o += (size_t) sprintf(big + o, "\"k%d\": %d, ", i % 2000, i);
        sprintf(big + o, "\"end\": {\"k1\": 1, \"k1\": 2}}");
        same(big);
        free(big);
}

static void test_iterator(void **state) {
        static const char text[] = " {\"a\" : 1 , \"b\":[1, 2 ,3], \"a\": \"x\"}";
        struct jsondoc d;
        struct pyjson_error err;
        struct jsondoc_iter it;
        size_t k, v;

        assert_int_equal(jsondoc_parse(&d, text, strlen(text), 100, &err), 0);
        assert_int_equal(d.root, 1);
        assert_int_equal(jsondoc_type(&d, d.root), JSONDOC_OBJECT);
        jsondoc_iter_init(&d, d.root, &it);
        assert_true(jsondoc_iter_next(&d, &it, &k, &v));
        assert_true(jsondoc_string_equals(&d, k, "a", 1));
        assert_int_equal(jsondoc_type(&d, v), JSONDOC_STRING); /* the last value, at the first place */
        assert_true(jsondoc_string_equals(&d, v, "x", 1));
        assert_false(jsondoc_string_equals(&d, v, "xy", 2));
        assert_false(jsondoc_string_equals(&d, v, "", 0));
        assert_true(jsondoc_iter_next(&d, &it, &k, &v));
        assert_true(jsondoc_string_equals(&d, k, "b", 1));
        assert_int_equal(jsondoc_type(&d, v), JSONDOC_ARRAY);
        struct jsondoc_iter items;
        size_t ik, iv, count = 0;
        jsondoc_iter_init(&d, v, &items);
        while (jsondoc_iter_next(&d, &items, &ik, &iv)) {
                assert_int_equal(ik, SIZE_MAX);
                assert_int_equal(jsondoc_type(&d, iv), JSONDOC_INTEGER);
                count++;
        }
        assert_int_equal(count, 3);
        assert_false(jsondoc_iter_next(&d, &it, &k, &v));
        assert_false(jsondoc_iter_next(&d, &it, &k, &v));
        jsondoc_done(&d);

        static const char types[] = "[1, 1.5, 1e3, -0, NaN, -Infinity, true, false, null, \"s\", {}, []]";
        static const enum jsondoc_type want[] = { JSONDOC_INTEGER, JSONDOC_REAL, JSONDOC_REAL, JSONDOC_INTEGER,
                                                  JSONDOC_CONSTANT, JSONDOC_CONSTANT, JSONDOC_TRUE, JSONDOC_FALSE,
                                                  JSONDOC_NULL, JSONDOC_STRING, JSONDOC_OBJECT, JSONDOC_ARRAY };
        assert_int_equal(jsondoc_parse(&d, types, strlen(types), 100, &err), 0);
        jsondoc_iter_init(&d, d.root, &it);
        for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                assert_true(jsondoc_iter_next(&d, &it, &k, &v));
                assert_int_equal(jsondoc_type(&d, v), want[i]);
        }
        assert_false(jsondoc_iter_next(&d, &it, &k, &v));
        jsondoc_done(&d);
}

static void test_strings(void **state) {
        static const char text[] = "\"a\\n\\u00e9\\ud83d\\ude00\\ud800x\xc3\xa9\xff\\\"\"";
        struct jsondoc d;
        struct pyjson_error err;
        size_t n;

        assert_int_equal(jsondoc_parse(&d, text, strlen(text), 100, &err), 0);
        _cleanup_free_ char *s = jsondoc_string_dup(&d, d.root, &n);
        static const char want[] = "a\n\xc3\xa9\xf0\x9f\x98\x80\xed\xa0\x80x\xc3\xa9\xef\xbf\xbd\"";
        assert_int_equal(n, sizeof want - 1);
        assert_memory_equal(s, want, n);
        assert_true(jsondoc_string_equals(&d, d.root, want, sizeof want - 1));
        jsondoc_done(&d);

        /* a long string crosses the decoder's and the output's buffers */
        size_t big = 3 * JSONDOC_OUT_BUF + 17;
        char *t = malloc(big + 3);
        t[0] = '"';
        for (size_t i = 1; i <= big; i++)
                t[i] = i % 7 == 0 ? '\xff' : i % 5 == 0 ? 'e' : 'a';
        t[big + 1] = '"';
        t[big + 2] = '\0';
        same(t);
        free(t);

        struct jsondoc_out o;
        jsondoc_out_init_memory(&o);
        jsondoc_dump_str(&o, "a\"\\\x7f\xed\xa0\x80\xf0\x9f\x98\x80\xff", 12);
        _cleanup_free_ char *dumped = jsondoc_out_take(&o, &n);
        assert_string_equal(dumped, "\"a\\\"\\\\\\u007f\\ud800\\ud83d\\ude00\\ufffd\"");
}

static void test_pruned_load(void **state) {
        struct jsondoc d;
        struct pyjson_error err;
        bool pruned;
        char *text = malloc(3 * 100000 + 3);
        size_t o = 0;

        text[o++] = '[';
        for (int i = 0; i < 100000; i++) {
                memcpy(text + o, "{},", 3);
                o += 3;
        }
        text[o - 1] = ']';
        text[o] = '\0';
        assert_int_equal(jsondoc_parse(&d, text, o, 100, &err), 0);
        json_t *v = jsondoc_load(&d, d.root, 1024, &pruned);
        assert_true(pruned);
        assert_int_equal(json_array_size(v), 1023);
        bool cut;
        _cleanup_free_ char *r = pyrepr_value_max(v, 512, &cut);
        assert_true(cut);
        json_decref(v);
        v = jsondoc_load(&d, d.root, SIZE_MAX, &pruned);
        assert_false(pruned);
        assert_int_equal(json_array_size(v), 100000);
        json_decref(v);
        jsondoc_done(&d);
        free(text);
}

static int fail_after(void *ud, const char *p, size_t n) {
        size_t *left = ud;
        if (n > *left)
                return -EPIPE;
        *left -= n;
        return 0;
}

static void test_out(void **state) {
        struct jsondoc_out o = { .flush = NULL };
        jsondoc_out_puts(&o, "abc");
        assert_int_equal(o.total, 3);
        assert_int_equal(jsondoc_out_flush(&o), 0);

        size_t left = JSONDOC_OUT_BUF + 10;
        struct jsondoc_out f = { .flush = fail_after, .ud = &left };
        char chunk[1000];
        memset(chunk, 'x', sizeof chunk);
        for (int i = 0; i < 40; i++)
                jsondoc_out_put(&f, chunk, sizeof chunk);
        assert_int_equal(f.error, -EPIPE);
        assert_int_equal(jsondoc_out_flush(&f), -EPIPE);
        assert_int_equal(f.total, 40000); /* counted still: the length pass and the write pass agree */
}

/* ---- random documents, both ways ---- */

static uint64_t rng = 0x9e3779b97f4a7c15u;
static unsigned rnd(unsigned n) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        return (unsigned) (rng % n);
}

static void gen_string(char **o) {
        static const char *const parts[] = { "a", "b", "\\n", "\\u0041", "\\ud800", "\\udc00", "\\ud83d\\ude00",
                                             "\xc3\xa9", "\xff", "\xed\xa0\x80", "\\\"", "\\/", "\x7f", " ", "k" };
        *o += sprintf(*o, "\"");
        for (unsigned n = rnd(4); n > 0; n--)
                *o += sprintf(*o, "%s", parts[rnd(ELEMENTSOF(parts))]);
        *o += sprintf(*o, "\"");
}

static void gen(char **o, unsigned depth) {
        static const char *const scalars[] = { "0", "-0", "1", "-12", "123456789012345678901234", "1.5", "1e5",
                                               "1E400", "-1e400", "1e-400", "0.1", "2.5e-3", "1e16", "1e15",
                                               "NaN", "Infinity", "-Infinity", "true", "false", "null",
                                               "9223372036854775807", "-9223372036854775808",
                                               "9223372036854775808", "1.0000000000000000001" };
        unsigned k = rnd(depth > 5 ? 3 : 5);
        if (k == 0) {
                *o += sprintf(*o, "%s", scalars[rnd(ELEMENTSOF(scalars))]);
        } else if (k == 1 || k == 2) {
                gen_string(o);
        } else if (k == 3) {
                *o += sprintf(*o, rnd(2) ? "[" : "[ ");
                for (unsigned n = rnd(4), i = 0; i < n; i++) {
                        if (i)
                                *o += sprintf(*o, rnd(2) ? "," : " , ");
                        gen(o, depth + 1);
                }
                *o += sprintf(*o, "]");
        } else {
                *o += sprintf(*o, "{");
                for (unsigned n = rnd(5), i = 0; i < n; i++) {
                        if (i)
                                *o += sprintf(*o, ",\n");
                        gen_string(o);
                        *o += sprintf(*o, rnd(2) ? ":" : " : ");
                        gen(o, depth + 1);
                }
                *o += sprintf(*o, "}");
        }
}

static void test_random_documents(void **state) {
        char *buf = malloc(1 << 20);
        for (int i = 0; i < 20000; i++) {
                char *o = buf;
                gen(&o, 0);
                /* now and then a broken one: the same error both ways */
                if (rnd(8) == 0 && o > buf)
                        o[-(long) rnd((unsigned) (o - buf))] = "]}\",:x"[rnd(6)];
                *o = '\0';
                same(buf);
        }
        free(buf);
}

/* Objects of more members than the scanner's small index holds: their
 * keys are counted by a lexical pass first (commas, brackets and quotes
 * inside strings must not count), nested ones too; a broken one keeps
 * growing its index past that count. */
static void gen_big(char **o, unsigned depth) {
        static const char *const around[][2] = { { "k", "" },     { "a,b", "" },    { "}", "{" },    { "\\\"", "," },
                                                 { "\\\\", "" }, { "\\u002c", "" }, { "]", "[" }, { "k", "\\u0000" } };
        unsigned n = 50 + rnd(300), distinct = 1 + rnd(n + 20);
        *o += sprintf(*o, "{");
        for (unsigned i = 0; i < n; i++) {
                if (i)
                        *o += sprintf(*o, rnd(2) ? "," : " ,\n ");
                unsigned a = rnd(ELEMENTSOF(around));
                *o += sprintf(*o, "\"%s%u%s\"", around[a][0], rnd(distinct), around[a][1]);
                *o += sprintf(*o, ":");
                unsigned k = rnd(40);
                if (k == 0 && depth < 2)
                        gen_big(o, depth + 1);
                else if (k < 4)
                        *o += sprintf(*o, "[\",]}\", {\"x\": 1, \"x\": \"{\"}, [%u]]", i);
                else
                        *o += sprintf(*o, "%u", i);
        }
        *o += sprintf(*o, "}");
}

static void test_big_objects(void **state) {
        char *buf = malloc(4 << 20);
        for (int i = 0; i < 400; i++) {
                char *o = buf;
                bool inside = rnd(2);
                if (inside)
                        o += sprintf(o, "[0, {\"pre\": [1, 2], \"g\": ");
                gen_big(&o, 0);
                if (inside)
                        o += sprintf(o, "}]");
                if (rnd(4) == 0 && o > buf) /* broken: truncated, or a byte changed */
                        o = rnd(2) ? buf + rnd((unsigned) (o - buf)) : o;
                if (rnd(6) == 0 && o > buf)
                        o[-(long) rnd((unsigned) (o - buf)) - 1] = "]}\",:x{["[rnd(8)];
                *o = '\0';
                same(buf);
        }
        free(buf);
}

static void test_deep_and_errors(void **state) {
        struct jsondoc d;
        struct pyjson_error err;
        char deep[1100];
        memset(deep, '[', 550);
        memset(deep + 550, ']', 550);
        assert_int_equal(jsondoc_parse(&d, deep, 1100, 512, &err), -EINVAL);
        assert_string_equal(err.text,
                            "maximum recursion depth exceeded while decoding a JSON array from a unicode string");
        assert_int_equal(jsondoc_parse(&d, deep, 1100, 550, &err), 0);
        assert_int_equal(jsondoc_skip(&d, d.root), 1100);
        jsondoc_done(&d);
        assert_int_equal(jsondoc_parse(&d, "", 0, 10, &err), -EINVAL);
        assert_string_equal(err.text, "Expecting value: line 1 column 1 (char 0)");
        jsondoc_done(&d); /* fine after a failure */
}

static void test_siphash_vectors(void **state) {
        /* the reference implementation's vectors (key 00..0f, message 00..len-1) */
        uint8_t key[16], msg[64];
        for (int i = 0; i < 16; i++)
                key[i] = (uint8_t) i;
        for (int i = 0; i < 64; i++)
                msg[i] = (uint8_t) i;
        assert_true(siphash24(key, msg, 0) == UINT64_C(0x726fdb47dd0e0e31));
        assert_true(siphash24(key, msg, 7) == UINT64_C(0xab0200f58b01d137));
        assert_true(siphash24(key, msg, 8) == UINT64_C(0x93f5f5799a932462));
        assert_true(siphash24(key, msg, 15) == UINT64_C(0xa129ca6149be45e5));
        assert_true(siphash24(key, msg, 63) == UINT64_C(0x958a324ceb064572));
        assert_true(siphash_bytes("a", 1) == siphash_bytes("a", 1));
        assert_true(siphash_bytes("a", 1) != siphash_bytes("b", 1));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_data_cases),      cmocka_unit_test(test_duplicate_keys), cmocka_unit_test(test_big_objects),
                cmocka_unit_test(test_iterator),        cmocka_unit_test(test_strings),
                cmocka_unit_test(test_pruned_load),     cmocka_unit_test(test_out),
                cmocka_unit_test(test_random_documents), cmocka_unit_test(test_deep_and_errors),
                cmocka_unit_test(test_siphash_vectors),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
