/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: request bodies (form.c). Input: byte 0 = feed size for the
 * streaming multipart parser (0: one feed), then a Content-Type line up to
 * '\n', then the body. The body is parsed as urlencoded always, and as
 * multipart both whole and streamed when the type is multipart; the two
 * multipart results must agree exactly (the streaming parser must not
 * depend on where reads split); the urlencoded parse in place must give
 * what the copying one gives. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "form.h"

static void check_form(const struct form *f) {
        if (f->n > FORM_MAX_ITEMS)
                abort();
        for (size_t i = 0; i < f->n; i++) {
                const struct form_item *it = &f->items[i];
                if (!it->name || !it->data || it->data[it->len] != 0)
                        abort();
                for (size_t j = i + 1; j < f->n; j++) /* duplicates: last wins */
                        if (it->is_file == f->items[j].is_file && strcmp(it->name, f->items[j].name) == 0)
                                abort();
        }
}

static void same_form(const struct form *a, const struct form *b) {
        if (a->n != b->n)
                abort();
        for (size_t i = 0; i < a->n; i++) {
                const struct form_item *x = &a->items[i], *y = &b->items[i];
                if (strcmp(x->name, y->name) != 0 || x->len != y->len || x->is_file != y->is_file ||
                    memcmp(x->data, y->data, x->len) != 0)
                        abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        size_t step = data[0];
        const char *p = (const char *) data + 1;
        size_t n = size - 1;
        const char *nl = memchr(p, '\n', n);
        if (!nl)
                return 0;
        char *ctype = strndup(p, (size_t) (nl - p));
        const char *body = nl + 1;
        size_t blen = n - (size_t) (nl - p) - 1;
        /* an exact-size heap copy: ASan sees any read past the body */
        char *b = malloc(blen ? blen : 1);
        memcpy(b, body, blen);
        char err[256];

        struct form u = { 0 }, ip = { 0 };
        int ru = form_parse_urlencoded(b, blen, &u, err, sizeof err);
        if (ru == 0) {
                check_form(&u);
                (void) form_get_field(&u, "payload");
        }
        /* in place (what the server uses), over a copy with its one
         * writable byte past the end: the same form, the same count */
        char *w = malloc(blen + 1);
        memcpy(w, body, blen);
        w[blen] = 'X';
        if (form_parse_urlencoded_inplace(w, blen, &ip, err, sizeof err) != ru)
                abort();
        if (ru == 0) {
                check_form(&ip);
                same_form(&u, &ip);
                if (u.field_bytes != ip.field_bytes)
                        abort();
        }
        form_done(&ip);
        free(w);
        form_done(&u);

        char boundary[71];
        if (form_content_type(ctype, boundary, sizeof boundary) == FORM_MULTIPART) {
                if (strlen(boundary) > 70)
                        abort();
                struct form whole = { 0 }, streamed = { 0 };
                int r1 = form_parse_multipart(b, blen, boundary, &whole, err, sizeof err);
                int r2 = -1;
                struct form_multipart *m = form_multipart_new(boundary, 1u << 20);
                if (m) {
                        if (step == 0)
                                step = blen ? blen : 1;
                        r2 = 0;
                        for (size_t off = 0; off < blen && r2 == 0; off += step) {
                                size_t k = blen - off < step ? blen - off : step;
                                r2 = form_multipart_feed(m, b + off, k, err, sizeof err);
                        }
                        if (r2 == 0)
                                r2 = form_multipart_finish(m, &streamed, err, sizeof err);
                        form_multipart_free(m);
                        if (r1 != r2)
                                abort();
                        if (r1 == 0) {
                                check_form(&whole);
                                same_form(&whole, &streamed);
                        }
                }
                form_done(&whole);
                form_done(&streamed);
        }
        free(b);
        free(ctype);
        return 0;
}
