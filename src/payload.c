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

#include "macro.h"
#include "payload.h"
#include "wrapper.h"
#include "pyjson.h"
#include "pyrepr.h"

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

static bool is_str(const json_t *v) { return json_is_string(v); }
static bool is_obj(const json_t *v) { return json_is_object(v) && !pyjson_is_raw(v); }

static bool is_allowed_lib(const char *s, size_t len) {
        return len == strlen(ALLOWED_LIB) && memcmp(s, ALLOWED_LIB, len) == 0;
}

/* "<repr> is not of type '<type>'" at path. */
static int type_error(struct payload_error *err, const char *path, const json_t *v, const char *type) {
        _cleanup_free_ char *r = NULL;
        bool truncated = false;

        /* Enough to fill the message; the rest could not be shown anyway. */
        r = pyrepr_value_max(v, sizeof(err->message), &truncated);
        if (!r)
                return -ENOMEM;
        return set_error(err, "invalid.payload.schema_mismatch",
                         "Payload JSON did not match schema at path %s: %s%s is not of type '%s'", path, r,
                         truncated ? "..." : "", type);
}

static int check_schema(const json_t *root, struct payload_error *err) {
        static const char *const required[] = { "code", "globals_dict" };
        const json_t *v;
        /* first weak (anyOf) error, reported only if no stronger one exists */
        const char *weak_path = NULL, *weak_type = NULL;
        const json_t *weak_value = NULL;
        char item_path[48];

        if (!is_obj(root))
                return type_error(err, "$", root, "object");

        /* 'required' errors sit at depth 0 and beat every property error. */
        for (size_t i = 0; i < ELEMENTSOF(required); i++)
                if (!json_object_get(root, required[i]))
                        return set_error(err, "invalid.payload.schema_mismatch",
                                         "Payload JSON did not match schema at path $: '%s' is a required property",
                                         required[i]);

        v = json_object_get(root, "code");
        if (!is_str(v))
                return type_error(err, "$.code", v, "string");

        v = json_object_get(root, "globals_dict");
        if (!is_obj(v))
                return type_error(err, "$.globals_dict", v, "object");

        v = json_object_get(root, "python_path");
        if (v && !json_is_null(v)) {
                if (!json_is_array(v)) {
                        weak_path = "$.python_path", weak_type = "array", weak_value = v;
                } else {
                        for (size_t i = 0; i < json_array_size(v); i++)
                                if (!is_str(json_array_get(v, i))) {
                                        /* The anyOf error is weak, but its deepest
                                         * context error (the item) is what best_match
                                         * reports if nothing stronger exists. */
                                        snprintf(item_path, sizeof(item_path), "$.python_path[%zu]", i);
                                        weak_path = item_path, weak_type = "string";
                                        weak_value = json_array_get(v, i);
                                        break;
                                }
                }
        }

        static const char *const nullable_strings[] = { "limit_overrides_context", "slug" };
        for (size_t i = 0; i < ELEMENTSOF(nullable_strings); i++) {
                v = json_object_get(root, nullable_strings[i]);
                if (v && !json_is_null(v) && !is_str(v) && !weak_path) {
                        weak_path = i == 0 ? "$.limit_overrides_context" : "$.slug";
                        weak_type = "string", weak_value = v;
                }
        }

        v = json_object_get(root, "unsafely");
        if (v && !json_is_boolean(v))
                return type_error(err, "$.unsafely", v, "boolean");

        if (weak_path)
                return type_error(err, weak_path, weak_value, weak_type);
        return 0;
}

int payload_parse(const char *text, size_t len, const char *const *file_names, size_t n_files,
                  struct payload *p, struct payload_error *err) {
        struct pyjson_error jerr;
        json_t *root, *v;
        int r;

        if (!p || (!text && len > 0) || (!file_names && n_files > 0))
                return -EINVAL;

        /* 4: JSON */
        root = pyjson_loads(text ? text : "", len, PAYLOAD_MAX_DEPTH, &jerr);
        if (!root) {
                if (errno == ENOMEM)
                        return -ENOMEM;
                return set_error(err, "invalid.payload.bad_json", "Unable to parse payload JSON: %s", jerr.text);
        }

        /* 5: schema */
        r = check_schema(root, err);
        if (r < 0) {
                json_decref(root);
                return r;
        }

        /* 6: python_path */
        v = json_object_get(root, "python_path");
        for (size_t i = 0; json_is_array(v) && i < json_array_size(v); i++) {
                const json_t *e = json_array_get(v, i);
                if (!is_allowed_lib(json_string_value(e), json_string_length(e))) {
                        json_decref(root);
                        return set_error(err, "invalid.python_path",
                                         "Only allowed entry in 'python_path' is 'python_lib.zip'");
                }
        }
        if (json_is_array(v) && json_array_size(v) > WRAPPER_MAX_PYTHON_PATH) {
                json_decref(root);
                return set_error(err, "invalid.python_path", "Too many entries in 'python_path': at most %d",
                                 WRAPPER_MAX_PYTHON_PATH);
        }

        /* 7: uploaded files */
        for (size_t i = 0; i < n_files; i++)
                if (!file_names[i] || strcmp(file_names[i], ALLOWED_LIB) != 0) {
                        json_decref(root);
                        return set_error(err, "invalid.files",
                                         "Only allowed name for uploaded file is 'python_lib.zip'");
                }

        /* 8: unsafely */
        if (json_is_true(json_object_get(root, "unsafely"))) {
                json_decref(root);
                return set_error(err, "invalid.unsafely", "Refusing codejail execution with unsafely=true");
        }

        v = json_object_get(root, "code");
        *p = (struct payload) {
                .root = root,
                .code = json_string_value(v),
                .code_len = json_string_length(v),
                .globals = json_object_get(root, "globals_dict"),
                .n_python_path = json_is_array(json_object_get(root, "python_path"))
                                         ? json_array_size(json_object_get(root, "python_path"))
                                         : 0,
                .limits_context = json_string_value(json_object_get(root, "limit_overrides_context")),
                .limits_context_len = json_string_length(json_object_get(root, "limit_overrides_context")),
                .slug = json_string_value(json_object_get(root, "slug")),
                .slug_len = json_string_length(json_object_get(root, "slug")),
                .unsafely = false,
        };
        return 0;
}

void payload_done(struct payload *p) {
        if (!p)
                return;
        json_decref(p->root);
        *p = (struct payload) {};
}
