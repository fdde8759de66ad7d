/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: the payload checks 4-8 (payload.c) on top of the
 * Python-compatible JSON reader (pyjson.c): NaN/Infinity, big integers,
 * lone surrogates, deep nesting. Byte 0 picks the uploaded file names; the
 * rest is the payload text. Beyond "no crash": whatever is accepted must
 * serialize, re-parse, and serialize to the same text again (what the
 * service sends the wrapper must be what it received), and every failure
 * must carry a message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsondoc.h"
#include "payload.h"
#include "pyjson.h"
#include "pyrepr.h"
#include "http.h"

static void roundtrip(const json_t *v) {
        size_t n;
        char *d = pyjson_dumps(v, &n);
        if (!d)
                abort();
        struct pyjson_error e;
        json_t *v2 = pyjson_loads(d, n, 100000, &e);
        if (!v2)
                abort();
        char *d2 = pyjson_dumps(v2, NULL);
        if (!d2 || strcmp(d, d2) != 0)
                abort();
        char *r = pyrepr_value_max(v, 200, NULL);
        if (!r)
                abort();
        free(r);
        free(d);
        free(d2);
        json_decref(v2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        static const char *const names[] = { "python_lib.zip", "other.zip", "python_lib.zip" };
        size_t n_files = data[0] % 4;
        char *text = malloc(size - 1 ? size - 1 : 1); /* exact size: ASan sees overreads */
        memcpy(text, data + 1, size - 1);

        struct payload p;
        struct payload_error pe;
        memset(&pe, 0, sizeof pe);
        int r = payload_parse(text, size - 1, names, n_files, &p, &pe);
        if (r == 0) {
                if (jsondoc_type(&p.doc, p.code_at) != JSONDOC_STRING ||
                    jsondoc_type(&p.doc, p.globals_at) != JSONDOC_OBJECT)
                        abort();
                /* the text read where it lies writes what the tree writes */
                struct pyjson_error e;
                json_t *tree = pyjson_loads(text, size - 1, PAYLOAD_MAX_DEPTH, &e);
                if (!tree)
                        abort();
                char *want = pyjson_dumps(tree, NULL);
                struct jsondoc_out o;
                jsondoc_out_init_memory(&o);
                jsondoc_dump(&p.doc, p.doc.root, &o);
                char *got = jsondoc_out_take(&o, NULL);
                if (!want || !got || strcmp(want, got) != 0)
                        abort();
                roundtrip(tree);
                free(want);
                free(got);
                json_decref(tree);
                payload_done(&p);
        } else {
                if (pe.http_status != 400 && pe.http_status != 500)
                        abort();
                if (!pe.log_status || pe.message[0] == 0 || memchr(pe.message, 0, sizeof pe.message) == NULL)
                        abort();
                size_t blen;
                char *body = http_error_body(pe.message, &blen);
                free(body);
        }

        struct pyjson_error e;
        json_t *v = pyjson_loads(text, size - 1, PAYLOAD_MAX_DEPTH, &e);
        if (v) {
                roundtrip(v);
                json_decref(v);
        } else if (e.text[0] == 0) {
                abort();
        }
        free(text);
        return 0;
}
