/* SPDX-License-Identifier: Apache-2.0 */
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
 * "Extra data"). Returns a new reference, or NULL with errno EINVAL and err
 * filled (errno ENOMEM: err says "Out of memory").
 *  - Input is UTF-8 as Django would decode it (errors='replace'): each
 *    maximal invalid subpart counts as one U+FFFD, stored as EF BF BD.
 *  - Error positions are code points of that text, lines split at '\n'.
 *  - "-0" is the integer 0; floats go through strtod (correctly rounded,
 *    as float()); a float that overflows becomes raw Infinity/-Infinity.
 *  - Duplicate keys: the last value wins at the first key's position.
 *  - Containers nested deeper than max_depth fail with CPython's
 *    RecursionError text ("maximum recursion depth exceeded while decoding
 *    a JSON array from a unicode string"); the parser is iterative, so any
 *    max_depth is safe for the C stack.
 *  - Integers of more than 4300 digits fail with CPython's ValueError text
 *    (sys.int_info.default_max_str_digits). */
json_t *pyjson_loads(const char *buf, size_t len, size_t max_depth, struct pyjson_error *err);

/* What pyjson_scan() indexes for jsondoc.h. An object that repeats a key:
 * pairs[2*first ..] holds its distinct keys in first-seen order, each as
 * (offset of the key's string, offset of the last value given for it). */
struct pyjson_dup {
        uint32_t at, end; /* offsets of its '{' and past its '}' */
        uint32_t first, n;
};
struct pyjson_index {
        size_t root;              /* offset of the root value */
        struct pyjson_dup *dups;  /* sorted by at; malloc'd */
        size_t n_dups;
        uint32_t *pairs;          /* malloc'd */
        size_t n_pairs;
};

/* Validate a whole document exactly as pyjson_loads() reads it (the same
 * errors, max_depth, "Extra data", int digits) without building it, and
 * index what jsondoc.h needs: the root's offset and the objects that
 * repeat a key. 0 with *idx set (its arrays the caller's to free), or
 * -EINVAL (err filled), -ENOMEM, -EFBIG (over 4 GiB). */
int pyjson_scan(const char *buf, size_t len, size_t max_depth, struct pyjson_error *err, struct pyjson_index *idx);

/* Serialize like Python's json.dumps(v) with default arguments:
 * separators ", " and ": ", ensure_ascii, allow_nan, float repr.
 * Returns malloc'd NUL-terminated text (length in *len_out if non-NULL)
 * or NULL on ENOMEM, or EINVAL for a string that is not generalized UTF-8
 * or nesting deeper than 4096. */
char *pyjson_dumps(const json_t *v, size_t *len_out);

/* A shallow copy of an object (values shared), keys kept whole: jansson
 * 2.14's json_copy() cuts keys at their first NUL ("a\u0000b" -> "a"),
 * which Python's json keeps. NULL for a non-object or on ENOMEM. */
json_t *pyjson_object_copy(const json_t *obj);

/* Raw numbers (NaN, Infinity, -Infinity, big integers). */
bool pyjson_is_raw(const json_t *v);
/* The marker key is 128 random bits per process and pyjson_is_raw also
 * checks the text, so even a forged marker object could at worst be written
 * as a valid number, never as arbitrary JSON. */
const char *pyjson_raw_text(const json_t *v); /* NULL if not raw */
json_t *pyjson_raw_new(const char *text);      /* validated: number-ish only */

/* Python float repr() of d ("0.1", "1e+16", "-0.0", "nan", "inf"). */
#define PYJSON_DOUBLE_BUFSZ 32
void pyjson_format_double(double d, char out[PYJSON_DOUBLE_BUFSZ]);

/* Decode one code point of generalized UTF-8 (lone surrogates allowed) at s.
 * Returns its length in bytes, or 0 if s is empty or not valid. */
size_t pyjson_utf8_next(const char *s, size_t len, uint32_t *cp);

/* Decode one code point of input bytes as CPython's UTF-8 decoder with
 * errors='replace' does (what Django hands json.loads): an invalid sequence
 * is U+FFFD for its maximal invalid subpart. Returns the bytes consumed
 * (>= 1; len must be >= 1). */
size_t pyjson_utf8_decode(const char *s, size_t len, uint32_t *cp);

/* One code point as json.dumps(ensure_ascii=True) writes it, into out:
 * itself (printable ASCII), a two-character escape, \uXXXX, or a
 * surrogate pair. Returns the length: 1, 2, 6 or 12. */
#define PYJSON_ESCAPE_BUFSZ 12
size_t pyjson_escape_cp(uint32_t cp, char out[PYJSON_ESCAPE_BUFSZ]);

/* Length of the JSON number token at s (CPython's grammar), 0 if none;
 * *is_float when it has a fraction or an exponent. */
size_t pyjson_number_len(const char *s, size_t len, bool *is_float);
