/* JSON as Python's json module reads and writes it.
 *
 * jansson holds the values, but jansson 2.14 cannot represent what Python's
 * json emits and the LMS sends: bare NaN/Infinity/-Infinity, integers beyond
 * 64 bits, and lone UTF-16 surrogate escapes ("\ud800"). So the tokenizer is
 * ours and produces jansson trees:
 *   - strings are "generalized UTF-8" (lone surrogates encoded as 3-byte
 *     sequences ED A0..BF xx), created with json_stringn_nocheck;
 *   - NaN, +-Infinity and out-of-range integers become a "raw number":
 *     a one-member object whose key is a per-process random marker, tested
 *     with pyjson_is_raw() and written back verbatim by pyjson_dumps();
 *   - floats are doubles; pyjson_dumps prints them as Python's repr().
 * Error messages copy Python's json.JSONDecodeError text, e.g.
 * "Expecting value: line 1 column 1 (char 0)". */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pyjson_error {
        char text[160];
};

/* Parse a whole document (trailing whitespace allowed, anything else ->
 * "Extra data"). Nesting deeper than max_depth is an error. Returns a new
 * reference or NULL with err filled. */
json_t *pyjson_loads(const char *buf, size_t len, size_t max_depth, struct pyjson_error *err);

/* Serialize like Python's json.dumps(v) with default arguments:
 * separators ", " and ": ", ensure_ascii, allow_nan, float repr.
 * Returns malloc'd NUL-terminated text (length in *len_out if non-NULL)
 * or NULL on ENOMEM/invalid value. */
char *pyjson_dumps(const json_t *v, size_t *len_out);

/* Raw numbers (NaN, Infinity, -Infinity, big integers). */
bool pyjson_is_raw(const json_t *v);
const char *pyjson_raw_text(const json_t *v); /* NULL if not raw */
json_t *pyjson_raw_new(const char *text);      /* validated: number-ish only */

/* Python float repr() of d ("0.1", "1e+16", "-0.0", "nan", "inf"). */
#define PYJSON_DOUBLE_BUFSZ 32
void pyjson_format_double(double d, char out[PYJSON_DOUBLE_BUFSZ]);

/* Decode one code point of generalized UTF-8 (lone surrogates allowed) at s.
 * Returns its length in bytes, or 0 if s is empty or not valid. */
size_t pyjson_utf8_next(const char *s, size_t len, uint32_t *cp);
