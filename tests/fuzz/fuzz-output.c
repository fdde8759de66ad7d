/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: handling of the jailed program's output, which the attacker
 * controls byte for byte (safeexec.c + jsondoc.c + pyjson.c). The answer
 * is written from the output's text (no tree); here it is compared with
 * the answer the tree gives -- pyjson_loads, a dict.update() on jansson,
 * pyjson_dumps -- byte for byte. For any stdout bytes:
 *   - status 0: a JSON object is merged into the input globals (key
 *     order, repeated keys, escapes in keys, __builtins__ kept), anything
 *     else is "corrupted stdout";
 *   - status != 0: the emsg quotes both streams with repr() exactly as
 *     pyrepr_bytes does;
 *   - the answer is ASCII, parses back, and the counting pass agrees with
 *     the text written. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "payload.h"
#include "pyjson.h"
#include "pyrepr.h"
#include "safeexec.h"

static const char globals[] = "{\"x\": 16, \"nan\": NaN, \"big\": 123456789012345678901234567890, "
                              "\"s\": \"\\ud800\", \"__builtins__\": null, \"l\": [1.5, -Infinity], \"x\": 17, "
                              "\"\\u0061\": 1, \"a\": {\"k\": 1, \"k\": 2}}";
static const char payload_text[] = "{\"code\": \"\", \"globals_dict\": {\"x\": 16, \"nan\": NaN, \"big\": "
                                   "123456789012345678901234567890, \"s\": \"\\ud800\", \"__builtins__\": null, "
                                   "\"l\": [1.5, -Infinity], \"x\": 17, \"\\u0061\": 1, \"a\": {\"k\": 1, \"k\": 2}}}";

/* The tree's answer (what safeexec.c used to build). */
static char *tree_answer(const char *out, size_t size, int status) {
        struct pyjson_error e;
        json_t *gin = pyjson_loads(globals, sizeof globals - 1, 100, &e);
        json_t *resp = json_object();
        if (!gin || !resp)
                abort();
        json_t *o = status == 0 ? pyjson_loads(out, size, 1000, &e) : NULL;
        if (o && json_is_object(o) && !pyjson_is_raw(o)) {
                json_t *g = pyjson_object_copy(gin);
                const char *k;
                size_t klen;
                json_t *v;
                json_object_keylen_foreach(o, k, klen, v) json_object_setn_nocheck(g, k, klen, v);
                json_object_set_new(resp, "globals_dict", g);
        } else {
                json_object_set(resp, "globals_dict", gin);
                if (status == 0)
                        json_object_set_new(resp, "emsg", json_string("Sandboxed code produced corrupted stdout."));
                else {
                        size_t half = size / 2;
                        char *ro = pyrepr_bytes(out, half), *re = pyrepr_bytes(out + half, size - half), *m = NULL;
                        if (!ro || !re || asprintf(&m, "Couldn't execute jailed code: stdout: %s, stderr: %s with "
                                                       "status code: %d", ro, re, status) < 0)
                                abort();
                        json_object_set_new(resp, "emsg", json_string(m));
                        free(ro), free(re), free(m);
                }
        }
        json_decref(o);
        json_decref(gin);
        char *d = pyjson_dumps(resp, NULL);
        json_decref(resp);
        return d;
}

static void check(const uint8_t *data, size_t size, int status) {
        struct payload p;
        struct payload_error pe;
        if (payload_parse(payload_text, sizeof payload_text - 1, NULL, 0, &p, &pe) < 0)
                abort();
        struct safeexec_outcome out = { 0 };
        struct jail_error jerr;
        char *copy = malloc(size ? size : 1); /* exact size: ASan sees overreads */
        memcpy(copy, data, size);
        out.jail.status = status;
        if (status == 0) {
                out.jail.out = copy;
                out.jail.out_len = size;
                out.jail.err = strdup("");
        } else {
                size_t half = size / 2;
                out.jail.out = malloc(half ? half : 1);
                memcpy(out.jail.out, data, half);
                out.jail.out_len = half;
                out.jail.err = malloc(size - half ? size - half : 1);
                memcpy(out.jail.err, data + half, size - half);
                out.jail.err_len = size - half;
                free(copy);
        }
        if (safeexec_interpret(&p, &out, &jerr) < 0)
                abort();
        size_t n;
        char *mine = safeexec_render(&out, &n);
        struct jsondoc_out count = { 0 };
        safeexec_write(&out, &count);
        char *theirs = tree_answer((const char *) data, size, status);
        if (!mine || !theirs || count.total != n || strcmp(mine, theirs) != 0) {
                fprintf(stderr, "text: %s\ntree: %s\n", mine ? mine : "(null)", theirs ? theirs : "(null)");
                abort();
        }
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) mine[i] >= 0x80) /* ensure_ascii */
                        abort();
        struct pyjson_error e;
        json_t *back = pyjson_loads(mine, n, 1010, &e);
        if (!back || !json_is_object(back))
                abort();
        json_decref(back);
        free(mine);
        free(theirs);
        safeexec_done(&out);
        payload_done(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        check(data, size, 0);
        check(data, size, -9);
        return 0;
}
