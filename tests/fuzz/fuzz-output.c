/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: handling of the jailed program's output, which the attacker
 * controls byte for byte (safeexec.c + pyjson.c + pyrepr.c). safeexec.c is
 * included to reach its static stdout handling (merge, error_message); the
 * archive then leaves its own copy out. For any stdout bytes:
 *   - status 0: a JSON object is merged into the input globals, anything
 *     else is "corrupted stdout" (exactly the decision safeexec_run makes);
 *   - the response {"globals_dict": ..., "emsg"?: ...} always serializes and
 *     re-parses (the service never sends malformed JSON);
 *   - status != 0: the emsg with both bytes reprs is built and is ASCII. */
#include "../../src/safeexec.c"

#include <stdint.h>

static json_t *input_globals(void) {
        static const char g[] = "{\"x\": 16, \"nan\": NaN, \"big\": 123456789012345678901234567890, "
                                "\"s\": \"\\ud800\", \"__builtins__\": null, \"l\": [1.5, -Infinity]}";
        struct pyjson_error e;
        json_t *v = pyjson_loads(g, sizeof g - 1, 100, &e);
        if (!v)
                abort();
        return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *out = (const char *) data;
        json_t *gin = input_globals();

        /* status 0: the wrapper's stdout */
        struct pyjson_error perr;
        json_t *o = pyjson_loads(out, size, SAFEEXEC_MAX_DEPTH, &perr);
        json_t *globals;
        bool corrupted = false;
        if (o && json_is_object(o) && !pyjson_is_raw(o)) {
                globals = merge(gin, o);
                if (!globals)
                        abort();
                /* update(): every output key present with its value */
                const char *k;
                size_t klen;
                json_t *v;
                json_object_keylen_foreach(o, k, klen, v) if (json_object_getn(globals, k, klen) != v) abort();
                if (json_object_size(globals) < json_object_size(gin))
                        abort();
        } else {
                if (!o && perr.text[0] == 0)
                        abort();
                globals = json_incref(gin);
                corrupted = true;
        }
        json_decref(o);
        json_t *resp = json_object();
        json_object_set_new(resp, "globals_dict", globals);
        if (corrupted)
                json_object_set_new(resp, "emsg", json_string("Sandboxed code produced corrupted stdout."));
        size_t n;
        char *d = pyjson_dumps(resp, &n);
        if (!d)
                abort();
        json_t *back = pyjson_loads(d, n, SAFEEXEC_MAX_DEPTH + 10, &perr);
        if (!back || !json_is_object(back))
                abort();
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) d[i] >= 0x80) /* ensure_ascii */
                        abort();
        json_decref(back);
        free(d);
        json_decref(resp);

        /* status != 0: emsg with reprs of stdout and stderr */
        size_t half = size / 2;
        struct jail_result jr = { 0 };
        jr.out = (char *) data;
        jr.out_len = half;
        jr.err = (char *) data + half;
        jr.err_len = size - half;
        jr.status = -9;
        char *m = error_message(&jr);
        if (!m)
                abort();
        for (char *c = m; *c; c++)
                if ((unsigned char) *c < 0x20 || (unsigned char) *c >= 0x7f)
                        abort();
        free(m);
        json_decref(gin);
        return 0;
}
