/* SPDX-License-Identifier: Apache-2.0 */
/* Request bodies: multipart/form-data and application/x-www-form-urlencoded.
 * Pure parsing, no I/O, no logging. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct form_item {
        char *name;   /* field name (decoded) */
        char *data;   /* value or file contents (NUL-terminated for convenience) */
        size_t len;
        bool is_file; /* multipart part with a filename= parameter */
        bool borrowed; /* data points into the caller's body (in-place parse) */
};

struct form {
        struct form_item *items;
        size_t n;
        /* The fields other than files as Django counts them against
         * DATA_UPLOAD_MAX_MEMORY_SIZE: multipart, value + name + 2 bytes
         * each, repeated names included; urlencoded, the raw body's length
         * (escapes as sent, not decoded). */
        uint64_t field_bytes;
};

enum form_kind { FORM_NONE, FORM_URLENCODED, FORM_MULTIPART };

/* At most this many fields+files per body (counted before duplicates are
 * dropped), like Django's DATA_UPLOAD_MAX_NUMBER_FIELDS: keeps "last wins"
 * cheap. More is -EINVAL. Field names containing NUL are -EINVAL. */
#define FORM_MAX_ITEMS 1000u

/* Classify a Content-Type header; for multipart, copies the boundary into
 * boundary (max 70 chars per RFC 2046; boundary_size >= 71). Returns
 * FORM_NONE for other types. A multipart type with a missing or invalid
 * boundary returns FORM_MULTIPART with boundary "" (the parsers then report
 * -EINVAL). */
enum form_kind form_content_type(const char *content_type, char *boundary, size_t boundary_size);

/* Parse a whole body. Returns 0 or -EINVAL (malformed; detail in err) /
 * -ENOMEM. Duplicate names: the last one wins (earlier ones are dropped). */
int form_parse_urlencoded(const char *body, size_t len, struct form *f, char *err, size_t errlen);
/* The same, decoding in place: values point into body (borrowed), which
 * must outlive the form and have a writable byte at body[len] (http.c's
 * bodies are NUL-terminated). Names are copied. One copy of the form in
 * memory instead of two. */
int form_parse_urlencoded_inplace(char *body, size_t len, struct form *f, char *err, size_t errlen);
int form_parse_multipart(const char *body, size_t len, const char *boundary, struct form *f,
                         char *err, size_t errlen);

/* The same, without copying: values whose bytes are contiguous in body (all
 * of them, for a well-formed body) point into it and are NUL-terminated in
 * place, overwriting the CR that follows each. body must outlive the form.
 * Keeps one copy of an uploaded file in memory instead of two. */
int form_parse_multipart_inplace(char *body, size_t len, const char *boundary, struct form *f, char *err,
                                 size_t errlen);

/* Streaming multipart parser: feed chunks as they arrive. max_bytes caps
 * the stored names+contents. new() returns NULL on ENOMEM or a boundary
 * that is empty or longer than 70. After an error every call repeats it. */
struct form_multipart;
struct form_multipart *form_multipart_new(const char *boundary, size_t max_bytes);
int form_multipart_feed(struct form_multipart *m, const char *buf, size_t len, char *err, size_t errlen);
int form_multipart_finish(struct form_multipart *m, struct form *f, char *err, size_t errlen);
void form_multipart_free(struct form_multipart *m);

const struct form_item *form_get_field(const struct form *f, const char *name); /* non-file */
void form_done(struct form *f);
