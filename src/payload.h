/* SPDX-License-Identifier: Apache-2.0 */
/* The code-exec payload: validation in the order of README "API" (checks
 * 4-8), with upstream's exact messages. Pure: no I/O, no logging. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "jsondoc.h"

/* Nesting limit for the payload JSON. CPython raises RecursionError near
 * 1000 levels (interpreter-dependent); we refuse earlier, with the same
 * text, as check 4 (bad_json). */
#define PAYLOAD_MAX_DEPTH 512

/* A value quoted in a schema message is read with at most this many
 * values (jsondoc_load): its repr() is cut far sooner. */
#define PAYLOAD_QUOTE_MAX_VALUES 1024

/* The payload is kept as its text (jsondoc.h): a request waiting for a
 * slot holds its body and little more, whatever shape its globals have. */
struct payload {
        struct jsondoc doc;         /* the payload text, validated (check 4); borrows it */
        size_t code_at;             /* the "code" string */
        size_t globals_at;          /* the "globals_dict" object */
        size_t n_python_path;       /* entries of python_path (all 'python_lib.zip') */
        char *limits_context;       /* decoded, or NULL (null or absent); its bytes may hold a NUL */
        size_t limits_context_len;
        char *slug;                 /* decoded, or NULL; its bytes may hold a NUL */
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
 * Returns 0 and fills *p, or -EINVAL and fills *err (-ENOMEM on OOM).
 * text must outlive *p: the payload is read where it lies. */
int payload_parse(const char *text, size_t len, const char *const *file_names, size_t n_files,
                  struct payload *p, struct payload_error *err);
void payload_done(struct payload *p);

/* SHA-256 (hex) of the code as decoded (generalized UTF-8): the log's
 * CODEJAIL_CODE_SHA256. */
void payload_code_sha256(const struct payload *p, char out[65]);
