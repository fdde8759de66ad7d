/* Request bodies: multipart/form-data and application/x-www-form-urlencoded.
 * Pure parsing, no I/O, no logging. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct form_item {
        char *name;   /* field name (decoded) */
        char *data;   /* value or file contents (NUL-terminated for convenience) */
        size_t len;
        bool is_file; /* multipart part with a filename= parameter */
};

struct form {
        struct form_item *items;
        size_t n;
};

enum form_kind { FORM_NONE, FORM_URLENCODED, FORM_MULTIPART };

/* Classify a Content-Type header; for multipart, copies the boundary into
 * boundary (max 70 chars per RFC 2046). Returns FORM_NONE for other types. */
enum form_kind form_content_type(const char *content_type, char *boundary, size_t boundary_size);

/* Parse a whole body. Returns 0 or -EINVAL (malformed; detail in err) /
 * -ENOMEM. Duplicate names: the last one wins (earlier ones are dropped). */
int form_parse_urlencoded(const char *body, size_t len, struct form *f, char *err, size_t errlen);
int form_parse_multipart(const char *body, size_t len, const char *boundary, struct form *f,
                         char *err, size_t errlen);

/* Streaming multipart parser: feed chunks as they arrive. */
struct form_multipart;
struct form_multipart *form_multipart_new(const char *boundary, size_t max_bytes);
int form_multipart_feed(struct form_multipart *m, const char *buf, size_t len, char *err, size_t errlen);
int form_multipart_finish(struct form_multipart *m, struct form *f, char *err, size_t errlen);
void form_multipart_free(struct form_multipart *m);

const struct form_item *form_get_field(const struct form *f, const char *name); /* non-file */
void form_done(struct form *f);
