/* SPDX-License-Identifier: Apache-2.0 */
/* The code-exec payload: validation in the order of README "API" (checks
 * 4-8), with upstream's exact messages. Pure: no I/O, no logging. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Nesting limit for the payload JSON. CPython raises RecursionError near
 * 1000 levels (interpreter-dependent); we refuse earlier, with the same
 * text, as check 4 (bad_json). */
#define PAYLOAD_MAX_DEPTH 512

struct payload {
        json_t *root;          /* owned; the parsed payload object */
        const char *code;      /* borrowed from root (generalized UTF-8) */
        size_t code_len;
        json_t *globals;       /* borrowed: the globals_dict object */
        size_t n_python_path;  /* entries of python_path (all 'python_lib.zip') */
        const char *limits_context; /* borrowed or NULL; its bytes may hold a NUL */
        size_t limits_context_len;
        const char *slug;           /* borrowed or NULL; its bytes may hold a NUL */
        size_t slug_len;
        bool unsafely;
};

/* Result of validation: on failure, status/message/log label are set. */
struct payload_error {
        int http_status;        /* 400 */
        const char *log_status; /* "invalid.payload.bad_json", ... */
        char message[512];      /* the exact {"error": ...} text */
};

/* Checks 4..8 of README "API" (3 is the caller's: payload field present).
 * file_names: names of uploaded files (form field names), n_files of them.
 * Returns 0 and fills *p, or -EINVAL and fills *err (-ENOMEM on OOM). */
int payload_parse(const char *text, size_t len, const char *const *file_names, size_t n_files,
                  struct payload *p, struct payload_error *err);
void payload_done(struct payload *p);
