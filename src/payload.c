/* SPDX-License-Identifier: Apache-2.0 */
/* The code-exec payload, checked in the order of README "API" (4..8) with
 * upstream codejail-service's messages.
 *
 * Check 5 reproduces what `jsonschema.validate(payload, payload_schema)`
 * reports: jsonschema's best_match picks, among all errors, the one with the
 * shortest path, preferring non-anyOf ("weak") errors at equal depth and the
 * first in iteration order (schema order: type, properties in declaration
 * order, required) at equal relevance; for an anyOf error it descends into
 * the alternatives' errors, the deepest (then first) one winning. Upstream's
 * schema:
 *   type object; properties code {type string}, globals_dict {type object},
 *   python_path anyOf[{type array, items {type string}}, {type null}],
 *   limit_overrides_context anyOf[string, null], slug anyOf[string, null],
 *   unsafely {type boolean}; required [code, globals_dict].
 * Reasons quote repr() of the offending value; a repr longer than the
 * message buffer is cut short (CPython would quote it whole). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "jsondoc.h"
#include "macro.h"
#include "payload.h"
#include "pyjson.h"
#include "pyrepr.h"
#include "sha256.h"
#include "wrapper.h"

#define ALLOWED_LIB "python_lib.zip"

static int set_error(struct payload_error *err, const char *log_status, const char *fmt, ...)
        _printf_(3, 4);

static int set_error(struct payload_error *err, const char *log_status, const char *fmt, ...) {
        va_list ap;

        if (err) {
                err->http_status = 400;
                err->log_status = log_status;
                va_start(ap, fmt);
                vsnprintf(err->message, sizeof(err->message), fmt, ap);
                va_end(ap);
        }
        return -EINVAL;
}

static bool is_allowed_lib(const struct jsondoc *d, size_t at) {
        return jsondoc_string_equals(d, at, ALLOWED_LIB, strlen(ALLOWED_LIB));
}

/* "<repr> is not of type '<type>'" at path, quoting the value at at. */
static int type_error(struct payload_error *err, const struct jsondoc *d, const char *path, size_t at,
                      const char *type) {
        _cleanup_free_ char *r = NULL;
        bool truncated = false;

        /* Enough of the value to fill the message; the rest could not be
         * shown anyway (jsondoc_load: a pruned value reads the same until
         * far past the cut). */
        json_t *v = jsondoc_load(d, at, PAYLOAD_QUOTE_MAX_VALUES, NULL);
        if (!v)
                return -ENOMEM;
        r = pyrepr_value_max(v, sizeof(err->message), &truncated);
        json_decref(v);
        if (!r)
                return -ENOMEM;
        return set_error(err, "invalid.payload.schema_mismatch",
                         "Payload JSON did not match schema at path %s: %s%s is not of type '%s'", path, r,
                         truncated ? "..." : "", type);
}

/* The payload's members upstream's schema knows: offsets of their (last)
 * values, NONE when absent. */
#define NONE SIZE_MAX
enum { M_CODE, M_GLOBALS, M_PYTHON_PATH, M_CONTEXT, M_SLUG, M_UNSAFELY, _M_MAX };
static const char *const member_names[_M_MAX] = {
        [M_CODE] = "code",       [M_GLOBALS] = "globals_dict", [M_PYTHON_PATH] = "python_path",
        [M_CONTEXT] = "limit_overrides_context", [M_SLUG] = "slug", [M_UNSAFELY] = "unsafely",
};

static void find_members(const struct jsondoc *d, size_t m[_M_MAX]) {
        struct jsondoc_iter it;
        size_t key_at, value_at;

        for (size_t i = 0; i < _M_MAX; i++)
                m[i] = NONE;
        jsondoc_iter_init(d, d->root, &it);
        while (jsondoc_iter_next(d, &it, &key_at, &value_at))
                for (size_t i = 0; i < _M_MAX; i++)
                        if (jsondoc_string_equals(d, key_at, member_names[i], strlen(member_names[i]))) {
                                m[i] = value_at;
                                break;
                        }
}

static bool is_null(const struct jsondoc *d, size_t at) { return at == NONE || jsondoc_type(d, at) == JSONDOC_NULL; }

static int check_schema(const struct jsondoc *d, const size_t m[_M_MAX], struct payload_error *err) {
        static const int required[] = { M_CODE, M_GLOBALS };
        /* first weak (anyOf) error, reported only if no stronger one exists */
        const char *weak_path = NULL, *weak_type = NULL;
        size_t weak_value = NONE;
        char item_path[48];

        if (jsondoc_type(d, d->root) != JSONDOC_OBJECT)
                return type_error(err, d, "$", d->root, "object");

        /* 'required' errors sit at depth 0 and beat every property error. */
        for (size_t i = 0; i < ELEMENTSOF(required); i++)
                if (m[required[i]] == NONE)
                        return set_error(err, "invalid.payload.schema_mismatch",
                                         "Payload JSON did not match schema at path $: '%s' is a required property",
                                         member_names[required[i]]);

        if (jsondoc_type(d, m[M_CODE]) != JSONDOC_STRING)
                return type_error(err, d, "$.code", m[M_CODE], "string");

        if (jsondoc_type(d, m[M_GLOBALS]) != JSONDOC_OBJECT)
                return type_error(err, d, "$.globals_dict", m[M_GLOBALS], "object");

        size_t v = m[M_PYTHON_PATH];
        if (!is_null(d, v)) {
                if (jsondoc_type(d, v) != JSONDOC_ARRAY) {
                        weak_path = "$.python_path", weak_type = "array", weak_value = v;
                } else {
                        struct jsondoc_iter it;
                        size_t k, item;
                        jsondoc_iter_init(d, v, &it);
                        for (size_t i = 0; jsondoc_iter_next(d, &it, &k, &item); i++)
                                if (jsondoc_type(d, item) != JSONDOC_STRING) {
                                        /* The anyOf error is weak, but its deepest
                                         * context error (the item) is what best_match
                                         * reports if nothing stronger exists. */
                                        snprintf(item_path, sizeof(item_path), "$.python_path[%zu]", i);
                                        weak_path = item_path, weak_type = "string", weak_value = item;
                                        break;
                                }
                }
        }

        static const int nullable_strings[] = { M_CONTEXT, M_SLUG };
        for (size_t i = 0; i < ELEMENTSOF(nullable_strings); i++) {
                v = m[nullable_strings[i]];
                if (!is_null(d, v) && jsondoc_type(d, v) != JSONDOC_STRING && !weak_path) {
                        weak_path = i == 0 ? "$.limit_overrides_context" : "$.slug";
                        weak_type = "string", weak_value = v;
                }
        }

        v = m[M_UNSAFELY];
        if (v != NONE && jsondoc_type(d, v) != JSONDOC_TRUE && jsondoc_type(d, v) != JSONDOC_FALSE)
                return type_error(err, d, "$.unsafely", v, "boolean");

        if (weak_path)
                return type_error(err, d, weak_path, weak_value, weak_type);
        return 0;
}

static char *optional_string(const struct jsondoc *d, size_t at, size_t *len, int *r) {
        *len = 0;
        if (is_null(d, at))
                return NULL;
        char *s = jsondoc_string_dup(d, at, len);
        if (!s)
                *r = -ENOMEM;
        return s;
}

int payload_parse(const char *text, size_t len, const char *const *file_names, size_t n_files,
                  struct payload *p, struct payload_error *err) {
        struct pyjson_error jerr;
        struct jsondoc d;
        size_t m[_M_MAX], n_path = 0;
        int r;

        if (!p || (!text && len > 0) || (!file_names && n_files > 0))
                return -EINVAL;

        /* 4: JSON */
        r = jsondoc_parse(&d, text ? text : "", len, PAYLOAD_MAX_DEPTH, &jerr);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return set_error(err, "invalid.payload.bad_json", "Unable to parse payload JSON: %s", jerr.text);

        /* 5: schema */
        if (jsondoc_type(&d, d.root) == JSONDOC_OBJECT)
                find_members(&d, m);
        r = check_schema(&d, m, err);
        if (r < 0)
                goto fail;

        /* 6: python_path */
        if (!is_null(&d, m[M_PYTHON_PATH])) {
                struct jsondoc_iter it;
                size_t k, item;
                jsondoc_iter_init(&d, m[M_PYTHON_PATH], &it);
                while (jsondoc_iter_next(&d, &it, &k, &item)) {
                        if (!is_allowed_lib(&d, item)) {
                                r = set_error(err, "invalid.python_path",
                                              "Only allowed entry in 'python_path' is 'python_lib.zip'");
                                goto fail;
                        }
                        n_path++;
                }
        }
        if (n_path > WRAPPER_MAX_PYTHON_PATH) {
                r = set_error(err, "invalid.python_path", "Too many entries in 'python_path': at most %d",
                              WRAPPER_MAX_PYTHON_PATH);
                goto fail;
        }

        /* 7: uploaded files */
        for (size_t i = 0; i < n_files; i++)
                if (!file_names[i] || strcmp(file_names[i], ALLOWED_LIB) != 0) {
                        r = set_error(err, "invalid.files", "Only allowed name for uploaded file is 'python_lib.zip'");
                        goto fail;
                }

        /* 8: unsafely */
        if (m[M_UNSAFELY] != NONE && jsondoc_type(&d, m[M_UNSAFELY]) == JSONDOC_TRUE) {
                r = set_error(err, "invalid.unsafely", "Refusing codejail execution with unsafely=true");
                goto fail;
        }

        *p = (struct payload) {
                .doc = d,
                .code_at = m[M_CODE],
                .globals_at = m[M_GLOBALS],
                .n_python_path = n_path,
        };
        r = 0;
        p->limits_context = optional_string(&d, m[M_CONTEXT], &p->limits_context_len, &r);
        p->slug = optional_string(&d, m[M_SLUG], &p->slug_len, &r);
        if (r < 0) {
                payload_done(p);
                return r;
        }
        return 0;

fail:
        jsondoc_done(&d);
        return r;
}

void payload_done(struct payload *p) {
        if (!p)
                return;
        jsondoc_done(&p->doc);
        free(p->limits_context);
        free(p->slug);
        *p = (struct payload) { 0 };
}

static int hash_piece(void *ud, const char *s, size_t n) {
        sha256_update(ud, s, n);
        return 0;
}

void payload_code_sha256(const struct payload *p, char out[65]) {
        struct sha256_ctx c;

        sha256_init(&c);
        if (p->doc.text)
                jsondoc_string_decode(&p->doc, p->code_at, hash_piece, &c);
        sha256_final_hex(&c, out);
}
