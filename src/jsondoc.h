/* SPDX-License-Identifier: Apache-2.0 */
/* A JSON document kept as its text: what json.loads() would build from it,
 * without building it.
 *
 * The payload's globals_dict and the jailed program's output are
 * attacker-shaped: as a tree (jansson) `[{},{},...]` costs ~80 bytes per
 * 3 bytes of text, so a request waiting for a slot, or its answer, would
 * hold ~80x what was sent. Here the text is validated once (pyjson_scan:
 * exactly json.loads()'s errors) and then read where it lies; the only
 * memory beyond the text is, for each object that repeats a key, its
 * distinct keys (8 bytes each) -- so that "the last value wins, at the
 * first key's place" holds without a tree.
 *
 * Offsets are uint32_t: documents are bounded by max_request_bytes
 * (<= 2 GiB) and OUTPUT (<= 1 GiB). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pyjson.h"

struct jsondoc {
        const char *text; /* borrowed: must outlive the document */
        size_t len;
        /* pyjson_scan()'s index (pyjson.h) */
        size_t root;                /* offset of the root value */
        struct pyjson_dup *dups;    /* sorted by at */
        size_t n_dups;
        uint32_t *pairs;
        size_t n_pairs;
};

/* Validate text as json.loads() would (pyjson_scan: its error messages,
 * max_depth as in pyjson_loads) and index the objects that repeat a key.
 * 0, -EINVAL with err filled, -ENOMEM, or -EFBIG (over 4 GiB). text must
 * stay valid and unchanged while d is used. */
int jsondoc_parse(struct jsondoc *d, const char *text, size_t len, size_t max_depth, struct pyjson_error *err);
void jsondoc_done(struct jsondoc *d);

enum jsondoc_type {
        JSONDOC_OBJECT,
        JSONDOC_ARRAY,
        JSONDOC_STRING,
        JSONDOC_INTEGER,
        JSONDOC_REAL,
        JSONDOC_CONSTANT, /* NaN, Infinity, -Infinity */
        JSONDOC_TRUE,
        JSONDOC_FALSE,
        JSONDOC_NULL,
};

/* The type of the value at offset at (where a value starts). */
enum jsondoc_type jsondoc_type(const struct jsondoc *d, size_t at);

/* The offset just past the value at at. */
size_t jsondoc_skip(const struct jsondoc *d, size_t at);

/* The members of an object as json.loads() keeps them (each key once, at
 * its first place, with its last value), or the items of an array.
 * value_end: set it to the offset past the last value returned when the
 * caller knows it (jsondoc_dump returns it) and the iterator need not
 * skip the value itself; 0 otherwise. */
struct jsondoc_iter {
        size_t pos;
        size_t value_end;
        const struct pyjson_dup *dup; /* the object repeats a key: read its pairs */
        size_t i;
        bool object, done;
};
void jsondoc_iter_init(const struct jsondoc *d, size_t at, struct jsondoc_iter *it);
/* key_at: the member's key string (SIZE_MAX for array items). */
bool jsondoc_iter_next(const struct jsondoc *d, struct jsondoc_iter *it, size_t *key_at, size_t *value_at);

/* The string at at (its opening quote) decoded as json.loads() decodes it,
 * in "generalized UTF-8" (pyjson.h), handed to fn in pieces. Returns 0 or
 * fn's first negative return. */
int jsondoc_string_decode(const struct jsondoc *d, size_t at, int (*fn)(void *ud, const char *p, size_t n),
                          void *ud);
/* The same into a malloc'd NUL-terminated buffer (the length in *len). */
char *jsondoc_string_dup(const struct jsondoc *d, size_t at, size_t *len);
/* Whether the string at at decodes to exactly s[0..n). */
bool jsondoc_string_equals(const struct jsondoc *d, size_t at, const char *s, size_t n);

/* Where serialized JSON goes: a buffer flushed through flush (NULL: only
 * count). The first negative flush return stops the output and stays in
 * error. */
#define JSONDOC_OUT_BUF 16384
struct jsondoc_out {
        int (*flush)(void *ud, const char *p, size_t n);
        void *ud;
        uint64_t total; /* bytes put, flushed or not */
        int error;
        char *mem; /* jsondoc_out_init_memory() */
        size_t mem_len, mem_cap;
        size_t n;
        char buf[JSONDOC_OUT_BUF];
};
void jsondoc_out_put(struct jsondoc_out *o, const void *p, size_t n);
void jsondoc_out_puts(struct jsondoc_out *o, const char *s);
/* Hand what is buffered to flush. 0 or the error. */
int jsondoc_out_flush(struct jsondoc_out *o);
/* An out whose flush appends to a malloc'd buffer; take it with
 * jsondoc_out_take() (NUL-terminated, length in *len; NULL on ENOMEM). */
void jsondoc_out_init_memory(struct jsondoc_out *o);
char *jsondoc_out_take(struct jsondoc_out *o, size_t *len);

/* json.dumps(json.loads(value)) of the value at at, with json.dumps()'s
 * defaults as pyjson_dumps() has them (", ", ": ", ensure_ascii,
 * allow_nan, float repr). Returns the offset past the value. */
size_t jsondoc_dump(const struct jsondoc *d, size_t at, struct jsondoc_out *o);
/* json.dumps() of a Python str given as generalized UTF-8. */
void jsondoc_dump_str(struct jsondoc_out *o, const char *s, size_t n);

/* The value at at as a jansson tree, as pyjson_loads() builds it, but with
 * at most max_values values: past that, containers stay short and *pruned
 * is set. For quoting a value in an error message: a repr() cut at fewer
 * than max_values bytes reads the same as the whole value's. NULL on
 * ENOMEM. */
json_t *jsondoc_load(const struct jsondoc *d, size_t at, size_t max_values, bool *pruned);
