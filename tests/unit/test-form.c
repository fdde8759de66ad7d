/* SPDX-License-Identifier: Apache-2.0 */
/* form.c: data-driven cases under tests/data/form/<case>/{content-type,
 * input,expected}; every multipart case is also streamed in pieces of
 * several sizes and must give the same answer. */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "form.h"

static char *slurp(const char *dir, const char *name, size_t *len) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        size_t cap = 4096, n = 0;
        char *b = malloc(cap + 1);
        size_t k;
        while ((k = fread(b + n, 1, cap - n, f)) > 0) {
                n += k;
                if (n == cap)
                        b = realloc(b, (cap *= 2) + 1);
        }
        fclose(f);
        b[n] = 0;
        *len = n;
        return b;
}

static void check_result(const char *name, int r, const struct form *f, const char *err, json_t *expected) {
        json_t *e = json_object_get(expected, "error");
        if (e) {
                if (r != -EINVAL || !strstr(err, json_string_value(e)))
                        fail_msg("%s: expected error '%s', got r=%d '%s'", name, json_string_value(e), r, err);
                return;
        }
        if (r != 0)
                fail_msg("%s: unexpected failure r=%d '%s'", name, r, err);
        json_t *items = json_object_get(expected, "items");
        if (json_array_size(items) != f->n)
                fail_msg("%s: %zu items, expected %zu", name, f->n, json_array_size(items));
        for (size_t i = 0; i < f->n; i++) {
                json_t *it = json_array_get(items, i);
                json_t *d = json_object_get(it, "data");
                const struct form_item *got = &f->items[i];
                if (strcmp(got->name, json_string_value(json_object_get(it, "name"))) != 0 ||
                    got->is_file != json_is_true(json_object_get(it, "file")) ||
                    got->len != json_string_length(d) || memcmp(got->data, json_string_value(d), got->len) != 0 ||
                    got->data[got->len] != 0)
                        fail_msg("%s: item %zu differs (got name '%s' len %zu)", name, i, got->name, got->len);
        }
}

static void run_case(const char *dir, const char *name) {
        size_t ctlen, len, elen;
        char *ct = slurp(dir, "content-type", &ctlen);
        char *input = slurp(dir, "input", &len);
        char *exp_text = slurp(dir, "expected", &elen);
        json_error_t jerr;
        json_t *expected = json_loadb(exp_text, elen, JSON_ALLOW_NUL, &jerr);
        if (!expected)
                fail_msg("%s: bad expected file: %s", name, jerr.text);
        ct[strcspn(ct, "\n")] = 0;

        char boundary[72], err[160];
        enum form_kind kind = form_content_type(ct[0] ? ct : NULL, boundary, sizeof boundary);
        if (json_object_get(expected, "kind")) {
                assert_int_equal(kind, FORM_NONE);
        } else if (kind == FORM_URLENCODED) {
                struct form f = { 0 };
                err[0] = 0;
                int r = form_parse_urlencoded(input, len, &f, err, sizeof err);
                check_result(name, r, &f, err, expected);
                uint64_t field_bytes = f.field_bytes;
                form_done(&f);

                /* In place (what the server uses): the same items and the
                 * same count, the values borrowed from the body. */
                char *copy = malloc(len + 1);
                memcpy(copy, input, len);
                copy[len] = 0;
                struct form h = { 0 };
                char label_ip[300];
                err[0] = 0;
                snprintf(label_ip, sizeof label_ip, "%s (in place)", name);
                r = form_parse_urlencoded_inplace(copy, len, &h, err, sizeof err);
                check_result(label_ip, r, &h, err, expected);
                for (size_t i = 0; r == 0 && i < h.n; i++)
                        if (!h.items[i].borrowed || h.items[i].data < copy || h.items[i].data > copy + len)
                                fail_msg("%s: item %zu was copied, not borrowed", label_ip, i);
                if (r == 0)
                        assert_int_equal(h.field_bytes, field_bytes);
                form_done(&h);
                free(copy);
        } else {
                assert_int_equal(kind, FORM_MULTIPART);
                struct form f = { 0 };
                err[0] = 0;
                int r = form_parse_multipart(input, len, boundary, &f, err, sizeof err);
                check_result(name, r, &f, err, expected);
                form_done(&f);

                /* In place (what the server uses): same items, every value
                 * borrowed from the body and NUL-terminated there. */
                char *copy = malloc(len + 1);
                memcpy(copy, input, len);
                copy[len] = 0;
                struct form h = { 0 };
                err[0] = 0;
                char label_ip[300];
                snprintf(label_ip, sizeof label_ip, "%s (in place)", name);
                r = form_parse_multipart_inplace(copy, len, boundary, &h, err, sizeof err);
                check_result(label_ip, r, &h, err, expected);
                for (size_t i = 0; r == 0 && i < h.n; i++)
                        if (h.items[i].len > 0 &&
                            (!h.items[i].borrowed || h.items[i].data < copy || h.items[i].data >= copy + len))
                                fail_msg("%s: item %zu was copied, not borrowed", label_ip, i);
                form_done(&h);
                free(copy);

                static const size_t steps[] = { 1, 2, 3, 7, 64, 4096 };
                for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
                        struct form_multipart *m = form_multipart_new(boundary, len);
                        struct form g = { 0 };
                        err[0] = 0;
                        if (!m) {
                                snprintf(err, sizeof err, "multipart boundary missing or invalid");
                                r = -EINVAL;
                        } else {
                                r = 0;
                                for (size_t o = 0; o < len && r == 0; o += steps[s])
                                        r = form_multipart_feed(m, input + o, len - o < steps[s] ? len - o : steps[s],
                                                                err, sizeof err);
                                if (r == 0)
                                        r = form_multipart_finish(m, &g, err, sizeof err);
                        }
                        char label[300];
                        snprintf(label, sizeof label, "%s (fed by %zu)", name, steps[s]);
                        check_result(label, r, &g, err, expected);
                        form_done(&g);
                        form_multipart_free(m);
                }
        }
        json_decref(expected);
        free(ct);
        free(input);
        free(exp_text);
}

static void test_data_cases(void **state) {
        char root[4096];
        snprintf(root, sizeof root, "%s/form", TEST_DATA_DIR);
        DIR *d = opendir(root);
        assert_non_null(d);
        struct dirent *de;
        size_t n = 0;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                char dir[4096 + 256];
                snprintf(dir, sizeof dir, "%s/%s", root, de->d_name);
                run_case(dir, de->d_name);
                n++;
        }
        closedir(d);
        assert_true(n >= 25);
}

static void test_content_type(void **state) {
        char b[72];
        assert_int_equal(form_content_type("application/x-www-form-urlencoded", b, sizeof b), FORM_URLENCODED);
        assert_int_equal(form_content_type("Application/X-WWW-Form-Urlencoded ; charset=UTF-8", b, sizeof b),
                         FORM_URLENCODED);
        assert_int_equal(form_content_type("multipart/form-data; boundary=abc", b, sizeof b), FORM_MULTIPART);
        assert_string_equal(b, "abc");
        assert_int_equal(form_content_type("multipart/form-data;boundary=\"a;b\";x=y", b, sizeof b), FORM_MULTIPART);
        assert_string_equal(b, "a;b");
        assert_int_equal(form_content_type("multipart/form-data; BOUNDARY=q; boundary=r", b, sizeof b),
                         FORM_MULTIPART);
        assert_string_equal(b, "r");
        assert_int_equal(form_content_type("multipart/form-data; boundary=", b, sizeof b), FORM_MULTIPART);
        assert_string_equal(b, "");
        assert_int_equal(form_content_type("multipart/form-data; boundary=\"unterminated", b, sizeof b),
                         FORM_MULTIPART);
        assert_string_equal(b, "");
        assert_int_equal(form_content_type("multipart/mixed; boundary=abc", b, sizeof b), FORM_NONE);
        assert_int_equal(form_content_type("application/json", b, sizeof b), FORM_NONE);
        assert_int_equal(form_content_type("application/x-www-form-urlencodedx", b, sizeof b), FORM_NONE);
        assert_int_equal(form_content_type(NULL, b, sizeof b), FORM_NONE);
        assert_int_equal(form_content_type("", b, sizeof b), FORM_NONE);
}

static void test_max_bytes(void **state) {
        static const char body[] = "--b\r\nContent-Disposition: form-data; name=a\r\n\r\n0123456789\r\n--b--";
        char err[160];
        struct form f = { 0 };
        struct form_multipart *m = form_multipart_new("b", 8);
        assert_non_null(m);
        assert_int_equal(form_multipart_feed(m, body, sizeof body - 1, err, sizeof err), -EINVAL);
        assert_non_null(strstr(err, "exceeds"));
        /* errors are sticky */
        assert_int_equal(form_multipart_feed(m, "x", 1, err, sizeof err), -EINVAL);
        assert_int_equal(form_multipart_finish(m, &f, err, sizeof err), -EINVAL);
        form_multipart_free(m);

        m = form_multipart_new("b", 11); /* "a" + 10 bytes */
        assert_int_equal(form_multipart_feed(m, body, sizeof body - 1, err, sizeof err), 0);
        assert_int_equal(form_multipart_finish(m, &f, err, sizeof err), 0);
        assert_int_equal(f.n, 1);
        form_done(&f);
        form_multipart_free(m);

        assert_null(form_multipart_new("", 10));
        form_multipart_free(NULL);
        form_done(NULL);
}

static void test_get_field(void **state) {
        static const char body[] = "--b\r\nContent-Disposition: form-data; name=payload; filename=p\r\n\r\nfile\r\n"
                                   "--b\r\nContent-Disposition: form-data; name=other\r\n\r\nv\r\n--b--";
        char err[160];
        struct form f = { 0 };
        assert_int_equal(form_parse_multipart(body, sizeof body - 1, "b", &f, err, sizeof err), 0);
        assert_null(form_get_field(&f, "payload")); /* a file, not a field */
        assert_string_equal(form_get_field(&f, "other")->data, "v");
        form_done(&f);
        assert_int_equal(form_parse_urlencoded(NULL, 0, &f, err, sizeof err), 0);
        assert_int_equal(f.n, 0);
        assert_null(form_get_field(&f, "payload"));
}

static void test_many_parts_fast(void **state) {
        /* 1000 parts of one byte each, whole and streamed: linear enough */
        size_t cap = 1000 * 64 + 16, o = 0;
        char *body = malloc(cap);
        for (int i = 0; i < 1000; i++)
                o += (size_t) sprintf(body + o, "--b\r\nContent-Disposition: form-data; name=n%d\r\n\r\nx\r\n", i % 10);
        o += (size_t) sprintf(body + o, "--b--");
        char err[160];
        struct form f = { 0 };
        assert_int_equal(form_parse_multipart(body, o, "b", &f, err, sizeof err), 0);
        assert_int_equal(f.n, 10);
        form_done(&f);
        /* one more part is too many */
        o -= 5;
        o += (size_t) sprintf(body + o, "--b\r\nContent-Disposition: form-data; name=z\r\n\r\nx\r\n--b--");
        assert_int_equal(form_parse_multipart(body, o, "b", &f, err, sizeof err), -EINVAL);
        assert_non_null(strstr(err, "too many"));
        free(body);
}

/* What Django counts against DATA_UPLOAD_MAX_MEMORY_SIZE: an urlencoded
 * body's raw length (request.body refuses a Content-Length over it); in
 * multipart every field's value + name + 2, repeated names too; files not
 * at all. */
static void test_field_bytes(void **state) {
        struct form f = { 0 };
        char err[160];
        static const char u[] = "payload=abc&payload=de%41&x&=1&&";
        assert_int_equal(form_parse_urlencoded(u, strlen(u), &f, err, sizeof err), 0);
        assert_int_equal(f.field_bytes, strlen(u));
        form_done(&f);
        assert_int_equal(f.field_bytes, 0);
        char copy[] = "payload=%41%41%41";
        assert_int_equal(form_parse_urlencoded_inplace(copy, strlen(copy), &f, err, sizeof err), 0);
        assert_int_equal(f.items[0].len, 3);
        assert_int_equal(f.field_bytes, 17);
        form_done(&f);
        char body[] = "--b\r\nContent-Disposition: form-data; name=\"python_lib.zip\"; filename=\"p\"\r\n\r\n0123456789\r\n"
                      "--b\r\nContent-Disposition: form-data; name=\"payload\"\r\n\r\n{}\r\n--b--\r\n";
        assert_int_equal(form_parse_multipart_inplace(body, strlen(body), "b", &f, err, sizeof err), 0);
        assert_int_equal(f.field_bytes, 2 + 7 + 2);
        form_done(&f);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_data_cases),
                cmocka_unit_test(test_content_type),
                cmocka_unit_test(test_max_bytes),
                cmocka_unit_test(test_get_field),
                cmocka_unit_test(test_many_parts_fast),
                cmocka_unit_test(test_field_bytes),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
