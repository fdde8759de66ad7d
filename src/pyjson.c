/* SPDX-License-Identifier: Apache-2.0 */
/* JSON as CPython 3.11's json module reads and writes it (see pyjson.h).
 *
 * The reader mirrors Modules/_json.c (scanstring_unicode, scan_once_unicode,
 * _parse_object_unicode, _parse_array_unicode, _match_number_unicode) step by
 * step so error kinds and positions match json.JSONDecodeError exactly.
 * It is iterative (an explicit frame stack bounded by max_depth), so 100k
 * nested brackets cannot overflow the C stack.
 *
 * Input bytes: Django decodes the form field as UTF-8 with errors='replace'
 * before json.loads sees it, so invalid UTF-8 becomes U+FFFD per maximal
 * invalid subpart (as CPython's decoder does), both inside strings (stored as
 * EF BF BD) and when counting positions for error messages. Error positions
 * are code points of that decoded text, lines counted by '\n'.
 *
 * Deviations from CPython, by design:
 *   - nesting deeper than max_depth fails with the text of the RecursionError
 *     CPython raises at its (larger, interpreter-dependent) limit;
 *   - integers longer than 4300 digits fail with the ValueError text of
 *     CPython's int max_str_digits limit (CPython raises ValueError, not
 *     JSONDecodeError; we report both as parse errors). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"
#include "pyjson.h"
#include "siphash.h"

#define INT_MAX_STR_DIGITS 4300
#define DUMPS_MAX_DEPTH 4096

/* ---- growable output buffer ---- */

struct buf {
        char *p;
        size_t len, cap;
        bool oom;
};

static bool buf_reserve(struct buf *b, size_t extra) {
        size_t want;

        if (b->oom)
                return false;
        if (extra > SIZE_MAX / 2 - b->len) {
                b->oom = true;
                return false;
        }
        want = b->len + extra + 1;
        if (want > b->cap) {
                size_t ncap = b->cap ? b->cap : 64;
                char *np;

                while (ncap < want)
                        ncap *= 2;
                np = realloc(b->p, ncap);
                if (!np) {
                        b->oom = true;
                        return false;
                }
                b->p = np;
                b->cap = ncap;
        }
        return true;
}

static void buf_put(struct buf *b, const void *data, size_t n) {
        if (!buf_reserve(b, n))
                return;
        memcpy(b->p + b->len, data, n);
        b->len += n;
        b->p[b->len] = '\0';
}

static void buf_putc(struct buf *b, char c) { buf_put(b, &c, 1); }
static void buf_puts(struct buf *b, const char *s) { buf_put(b, s, strlen(s)); }

/* ---- UTF-8 ---- */

/* Decode one code point. With gen, surrogates ED A0..BF xx are accepted
 * (generalized UTF-8, our string storage); without, they are invalid as in
 * CPython's decoder. On an invalid sequence *ok is false, *cp is U+FFFD and
 * the return value is the length of the maximal invalid subpart (>= 1),
 * which is what CPython replaces with one U+FFFD. */
static size_t u8_next(const unsigned char *s, size_t len, bool gen, uint32_t *cp, bool *ok) {
        unsigned char c = s[0], lo = 0x80, hi = 0xBF;
        size_t need, i;
        uint32_t v;

        *ok = false;
        *cp = 0xFFFD;
        if (c < 0x80) {
                *cp = c;
                *ok = true;
                return 1;
        }
        if (c < 0xC2)
                return 1;
        if (c < 0xE0) {
                need = 1;
                v = c & 0x1F;
        } else if (c < 0xF0) {
                need = 2;
                v = c & 0x0F;
                if (c == 0xE0)
                        lo = 0xA0;
                else if (c == 0xED && !gen)
                        hi = 0x9F;
        } else if (c < 0xF5) {
                need = 3;
                v = c & 0x07;
                if (c == 0xF0)
                        lo = 0x90;
                else if (c == 0xF4)
                        hi = 0x8F;
        } else
                return 1;

        for (i = 1; i <= need; i++) {
                if (i >= len || s[i] < lo || s[i] > hi)
                        return i;
                v = v << 6 | (s[i] & 0x3F);
                lo = 0x80, hi = 0xBF;
        }
        *cp = v;
        *ok = true;
        return i;
}

size_t pyjson_utf8_next(const char *s, size_t len, uint32_t *cp) {
        bool ok;
        size_t n;

        if (len == 0)
                return 0;
        n = u8_next((const unsigned char *) s, len, true, cp, &ok);
        return ok ? n : 0;
}

size_t pyjson_utf8_decode(const char *s, size_t len, uint32_t *cp) {
        bool ok;

        return u8_next((const unsigned char *) s, len, false, cp, &ok);
}

static void u8_put(struct buf *b, uint32_t cp) {
        char t[4];

        if (cp < 0x80) {
                t[0] = (char) cp;
                buf_put(b, t, 1);
        } else if (cp < 0x800) {
                t[0] = (char) (0xC0 | cp >> 6);
                t[1] = (char) (0x80 | (cp & 0x3F));
                buf_put(b, t, 2);
        } else if (cp < 0x10000) {
                t[0] = (char) (0xE0 | cp >> 12);
                t[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
                t[2] = (char) (0x80 | (cp & 0x3F));
                buf_put(b, t, 3);
        } else {
                t[0] = (char) (0xF0 | cp >> 18);
                t[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
                t[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
                t[3] = (char) (0x80 | (cp & 0x3F));
                buf_put(b, t, 4);
        }
}

/* ---- raw numbers ---- */

static char raw_marker[64];
static size_t raw_marker_len;

static void raw_marker_init(void) {
        static const char hex[] = "0123456789abcdef";
        static const char prefix[] = "\0pyjson-raw:";
        uint8_t rnd[16];
        size_t got = 0;

        if (raw_marker_len)
                return;
        while (got < sizeof(rnd)) {
                ssize_t n = getrandom(rnd + got, sizeof(rnd) - got, 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                got += (size_t) n;
        }
        if (got < sizeof(rnd)) {
                /* No getrandom (very old kernel): the marker only has to be
                 * unguessable enough not to collide with user keys by chance;
                 * pyjson_is_raw also validates the text, so a forged marker
                 * can at worst produce a valid number. */
                struct timespec ts;
                uint64_t x;

                clock_gettime(CLOCK_MONOTONIC, &ts);
                x = (uint64_t) ts.tv_nsec ^ ((uint64_t) ts.tv_sec << 32) ^ (uint64_t) getpid() ^
                    (uint64_t) (uintptr_t) &got;
                for (size_t i = 0; i < sizeof(rnd); i++) {
                        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                        rnd[i] = (uint8_t) x;
                }
        }
        memcpy(raw_marker, prefix, sizeof(prefix) - 1);
        raw_marker_len = sizeof(prefix) - 1;
        for (size_t i = 0; i < sizeof(rnd); i++) {
                raw_marker[raw_marker_len++] = hex[rnd[i] >> 4];
                raw_marker[raw_marker_len++] = hex[rnd[i] & 15];
        }
}

/* Length of the JSON number token at s (CPython _match_number_unicode
 * grammar), 0 if none; *is_float set when it has a fraction or exponent. */
static size_t match_number(const char *s, size_t len, bool *is_float) {
        size_t i = 0;

        *is_float = false;
        if (i < len && s[i] == '-')
                i++;
        if (i >= len)
                return 0;
        if (s[i] >= '1' && s[i] <= '9') {
                i++;
                while (i < len && s[i] >= '0' && s[i] <= '9')
                        i++;
        } else if (s[i] == '0')
                i++;
        else
                return 0;
        if (i + 1 < len && s[i] == '.' && s[i + 1] >= '0' && s[i + 1] <= '9') {
                *is_float = true;
                i += 2;
                while (i < len && s[i] >= '0' && s[i] <= '9')
                        i++;
        }
        if (i + 1 < len && (s[i] == 'e' || s[i] == 'E')) {
                size_t e_start = i++;

                if (i + 1 < len && (s[i] == '-' || s[i] == '+'))
                        i++;
                while (i < len && s[i] >= '0' && s[i] <= '9')
                        i++;
                if (s[i - 1] >= '0' && s[i - 1] <= '9')
                        *is_float = true;
                else
                        i = e_start;
        }
        return i;
}

size_t pyjson_number_len(const char *s, size_t len, bool *is_float) {
        return match_number(s, len, is_float);
}

static bool raw_text_valid(const char *text, size_t len) {
        bool is_float;

        if ((len == 3 && memcmp(text, "NaN", 3) == 0) || (len == 8 && memcmp(text, "Infinity", 8) == 0) ||
            (len == 9 && memcmp(text, "-Infinity", 9) == 0))
                return true;
        return len > 0 && match_number(text, len, &is_float) == len;
}

static json_t *raw_new_len(const char *text, size_t len) {
        json_t *o, *s;

        if (!raw_text_valid(text, len)) {
                errno = EINVAL;
                return NULL;
        }
        raw_marker_init();
        s = json_stringn_nocheck(text, len);
        if (!s)
                return NULL;
        o = json_object();
        if (!o || json_object_setn_new_nocheck(o, raw_marker, raw_marker_len, s) < 0) {
                if (!o)
                        json_decref(s);
                json_decref(o);
                return NULL;
        }
        return o;
}

json_t *pyjson_raw_new(const char *text) {
        if (!text) {
                errno = EINVAL;
                return NULL;
        }
        return raw_new_len(text, strlen(text));
}

json_t *pyjson_object_copy(const json_t *obj) {
        if (!json_is_object(obj))
                return NULL;
        json_t *c = json_object();
        const char *k;
        size_t klen;
        json_t *v;
        if (!c)
                return NULL;
        json_object_keylen_foreach((json_t *)obj, k, klen, v) {
                if (json_object_setn_nocheck(c, k, klen, v) < 0) {
                        json_decref(c);
                        return NULL;
                }
        }
        return c;
}

bool pyjson_is_raw(const json_t *v) {
        void *it;
        const json_t *s;
        size_t klen;

        if (!json_is_object(v) || json_object_size(v) != 1 || !raw_marker_len)
                return false;
        it = json_object_iter((json_t *) v);
        if (!it)
                return false;
        klen = json_object_iter_key_len(it);
        if (klen != raw_marker_len || memcmp(json_object_iter_key(it), raw_marker, klen) != 0)
                return false;
        s = json_object_iter_value(it);
        return json_is_string(s) && raw_text_valid(json_string_value(s), json_string_length(s));
}

const char *pyjson_raw_text(const json_t *v) {
        if (!pyjson_is_raw(v))
                return NULL;
        return json_string_value(json_object_iter_value(json_object_iter((json_t *) v)));
}

/* ---- float repr ---- */

void pyjson_format_double(double d, char out[PYJSON_DOUBLE_BUFSZ]) {
        char tmp[64], digits[24];
        size_t nd = 0;
        int exp10, decpt, p;
        bool neg;
        char *q, *o = out;

        if (isnan(d)) {
                strcpy(out, "nan");
                return;
        }
        if (isinf(d)) {
                strcpy(out, d < 0 ? "-inf" : "inf");
                return;
        }
        /* Shortest round-trip digits, as repr() ('r' mode) produces. With
         * correct rounding, round-tripping is monotonic in the precision, so
         * binary search the shortest one; 17 digits always round-trip. */
        {
                int lo = 1, hi = 17;
                while (lo < hi) {
                        int mid = (lo + hi) / 2;
                        snprintf(tmp, sizeof(tmp), "%.*e", mid - 1, d);
                        if (strtod(tmp, NULL) == d)
                                hi = mid;
                        else
                                lo = mid + 1;
                }
                p = lo;
        }
        snprintf(tmp, sizeof(tmp), "%.*e", p - 1, d);
        q = tmp;
        neg = *q == '-';
        if (neg)
                q++;
        for (; *q && *q != 'e'; q++)
                if (*q >= '0' && *q <= '9' && nd < sizeof(digits) - 1)
                        digits[nd++] = *q;
        exp10 = *q == 'e' ? atoi(q + 1) : 0;
        while (nd > 1 && digits[nd - 1] == '0')
                nd--;
        digits[nd] = '\0';
        if (nd == 1 && digits[0] == '0')
                exp10 = 0;
        decpt = exp10 + 1;

        if (neg)
                *o++ = '-';
        if (decpt <= -4 || decpt > 16) {
                *o++ = digits[0];
                if (nd > 1) {
                        *o++ = '.';
                        memcpy(o, digits + 1, nd - 1);
                        o += nd - 1;
                }
                {
                        unsigned a = (unsigned) (exp10 < 0 ? -exp10 : exp10) % 1000; /* |exp10| <= 324 */
                        *o++ = 'e';
                        *o++ = exp10 < 0 ? '-' : '+';
                        if (a >= 100)
                                *o++ = (char) ('0' + a / 100);
                        *o++ = (char) ('0' + a / 10 % 10);
                        *o++ = (char) ('0' + a % 10);
                        *o = '\0';
                }
                return;
        }
        if (decpt <= 0) {
                *o++ = '0';
                *o++ = '.';
                for (int i = 0; i < -decpt; i++)
                        *o++ = '0';
                memcpy(o, digits, nd);
                o += nd;
        } else if ((size_t) decpt >= nd) {
                memcpy(o, digits, nd);
                o += nd;
                for (size_t i = nd; i < (size_t) decpt; i++)
                        *o++ = '0';
                *o++ = '.';
                *o++ = '0';
        } else {
                memcpy(o, digits, (size_t) decpt);
                o += decpt;
                *o++ = '.';
                memcpy(o, digits + decpt, nd - (size_t) decpt);
                o += nd - (size_t) decpt;
        }
        *o = '\0';
}

/* ---- reader ---- */

struct frame {
        json_t *c;
        char *key; /* pending key of an object member, owned */
        size_t keylen;
};

struct parser {
        const char *s;
        size_t len;
        size_t pos;
        const char *msg;  /* error kind, NULL if none */
        size_t err_pos;   /* byte offset of the error */
        bool no_position; /* message stands alone (ValueError-style) */
        char detail[160];
        bool oom;
        bool discard;  /* validate strings without keeping them (pyjson_scan) */
        struct buf sb; /* scratch for strings */
};

static bool fail(struct parser *p, const char *msg, size_t at) {
        if (!p->msg) {
                p->msg = msg;
                p->err_pos = at;
        }
        return false;
}

static inline bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static void skip_ws(struct parser *p) {
        while (p->pos < p->len && is_ws(p->s[p->pos]))
                p->pos++;
}


/* 4 hex digits at s[at..at+3], followed by at least one more byte (CPython
 * checks `end >= len` before the digits; with ASCII digits bytes == chars). */
static bool hex4(const struct parser *p, size_t at, uint32_t *out) {
        uint32_t v = 0;

        if (at + 4 >= p->len)
                return false;
        for (size_t i = 0; i < 4; i++) {
                int h = unhexchar(p->s[at + i]);
                if (h < 0)
                        return false;
                v = v << 4 | (uint32_t) h;
        }
        *out = v;
        return true;
}

/* String starting at the opening quote at p->pos; result in p->sb. */
static bool parse_string(struct parser *p) {
        size_t begin = p->pos;
        const unsigned char *s = (const unsigned char *) p->s;

        p->sb.len = 0;
        buf_reserve(&p->sb, 0);
        p->pos++;
        for (;;) {
                unsigned char c;

                if (p->pos >= p->len)
                        return fail(p, "Unterminated string starting at", begin);
                c = s[p->pos];
                if (c == '"') {
                        p->pos++;
                        break;
                }
                if (c == '\\') {
                        size_t bs = p->pos;
                        uint32_t cp, cp2;

                        if (bs + 1 >= p->len)
                                return fail(p, "Unterminated string starting at", begin);
                        c = s[bs + 1];
                        if (c != 'u') {
                                static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
                                const char *m = c ? strchr(from, c) : NULL;

                                if (!m)
                                        return fail(p, "Invalid \\escape", bs);
                                if (!p->discard)
                                        buf_putc(&p->sb, to[m - from]);
                                p->pos = bs + 2;
                                continue;
                        }
                        if (!hex4(p, bs + 2, &cp))
                                return fail(p, "Invalid \\uXXXX escape", bs + 1);
                        p->pos = bs + 6;
                        /* A high surrogate followed by "\u": CPython decodes the
                         * second escape at once (needing 4 hex digits and one more
                         * char) and joins the pair if it is a low surrogate. */
                        if (cp >= 0xD800 && cp <= 0xDBFF && p->pos + 6 < p->len && s[p->pos] == '\\' &&
                            s[p->pos + 1] == 'u') {
                                if (!hex4(p, p->pos + 2, &cp2))
                                        return fail(p, "Invalid \\uXXXX escape", p->pos + 1);
                                if (cp2 >= 0xDC00 && cp2 <= 0xDFFF) {
                                        cp = 0x10000 + ((cp - 0xD800) << 10) + (cp2 - 0xDC00);
                                        p->pos += 6;
                                }
                        }
                        if (!p->discard)
                                u8_put(&p->sb, cp);
                        continue;
                }
                if (c < 0x20)
                        return fail(p, "Invalid control character at", p->pos);
                if (c < 0x80) {
                        size_t run = p->pos + 1;

                        /* copy a run of plain ASCII at once */
                        while (run < p->len && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' && s[run] != '\\')
                                run++;
                        if (!p->discard)
                                buf_put(&p->sb, s + p->pos, run - p->pos);
                        p->pos = run;
                } else {
                        bool ok;
                        uint32_t cp;
                        size_t n = u8_next(s + p->pos, p->len - p->pos, false, &cp, &ok);

                        if (p->discard)
                                ;
                        else if (ok)
                                buf_put(&p->sb, s + p->pos, n);
                        else
                                u8_put(&p->sb, 0xFFFD);
                        p->pos += n;
                }
        }
        if (p->sb.oom) {
                p->oom = true;
                return false;
        }
        return true;
}

/* int() refuses more than INT_MAX_STR_DIGITS digits (CPython's ValueError). */
static bool int_digits_ok(struct parser *p, size_t start, size_t n) {
        size_t digits = n - (p->s[start] == '-');

        if (digits <= INT_MAX_STR_DIGITS)
                return true;
        snprintf(p->detail, sizeof(p->detail),
                 "Exceeds the limit (%d digits) for integer string conversion: "
                 "value has %zu digits; use sys.set_int_max_str_digits() to increase the limit",
                 INT_MAX_STR_DIGITS, digits);
        p->no_position = true;
        return fail(p, p->detail, start);
}

static json_t *make_number(struct parser *p, size_t start, size_t n, bool is_float) {
        const char *t = p->s + start;

        if (!is_float) {
                size_t digits = n - (t[0] == '-');

                if (!int_digits_ok(p, start, n))
                        return NULL;
                if (digits <= 18) {
                        int64_t v = 0;
                        for (size_t i = n - digits; i < n; i++)
                                v = v * 10 + (t[i] - '0');
                        return json_integer(t[0] == '-' ? -v : v);
                }
                if (digits == 19) {
                        char tmp[24];
                        long long v;
                        memcpy(tmp, t, n);
                        tmp[n] = '\0';
                        errno = 0;
                        v = strtoll(tmp, NULL, 10);
                        if (errno == 0)
                                return json_integer(v);
                }
                return raw_new_len(t, n);
        } else {
                _cleanup_free_ char *tmp = malloc(n + 1);
                double d;

                if (!tmp)
                        return NULL;
                memcpy(tmp, t, n);
                tmp[n] = '\0';
                d = strtod(tmp, NULL);
                if (isinf(d))
                        return raw_new_len(d < 0 ? "-Infinity" : "Infinity", d < 0 ? 9 : 8);
                return json_real(d);
        }
}

/* A scalar at p->pos, or NULL with p->msg set (or p->oom). Containers are
 * handled by the caller. */
static json_t *parse_scalar(struct parser *p) {
        const char *s = p->s + p->pos;
        size_t rem = p->len - p->pos, n;
        bool is_float;
        json_t *v;

        if (rem == 0) {
                fail(p, "Expecting value", p->pos);
                return NULL;
        }
        switch (s[0]) {
        case '"':
                if (!parse_string(p))
                        return NULL;
                v = json_stringn_nocheck(p->sb.p, p->sb.len);
                if (!v)
                        p->oom = true;
                return v;
        case 'n':
                if (rem >= 4 && memcmp(s, "null", 4) == 0) {
                        p->pos += 4;
                        return json_null();
                }
                break;
        case 't':
                if (rem >= 4 && memcmp(s, "true", 4) == 0) {
                        p->pos += 4;
                        return json_true();
                }
                break;
        case 'f':
                if (rem >= 5 && memcmp(s, "false", 5) == 0) {
                        p->pos += 5;
                        return json_false();
                }
                break;
        case 'N':
                if (rem >= 3 && memcmp(s, "NaN", 3) == 0) {
                        p->pos += 3;
                        goto raw;
                }
                break;
        case 'I':
                if (rem >= 8 && memcmp(s, "Infinity", 8) == 0) {
                        p->pos += 8;
                        goto raw;
                }
                break;
        case '-':
                if (rem >= 9 && memcmp(s, "-Infinity", 9) == 0) {
                        p->pos += 9;
                        goto raw;
                }
                break;
        }
        n = match_number(s, rem, &is_float);
        if (n == 0) {
                fail(p, "Expecting value", p->pos);
                return NULL;
        }
        v = make_number(p, p->pos, n, is_float);
        if (!v && !p->msg)
                p->oom = true;
        if (v)
                p->pos += n;
        return v;
raw:
        v = raw_new_len(s, (size_t) (p->s + p->pos - s));
        if (!v)
                p->oom = true;
        return v;
}

static void format_error(const struct parser *p, struct pyjson_error *err) {
        size_t chars = 0, line = 1, col, lastnl = SIZE_MAX, i = 0;
        const unsigned char *s = (const unsigned char *) p->s;

        if (!err)
                return;
        if (p->oom) {
                snprintf(err->text, sizeof(err->text), "Out of memory");
                return;
        }
        if (p->no_position) {
                snprintf(err->text, sizeof(err->text), "%s", p->msg);
                return;
        }
        while (i < p->err_pos && i < p->len) {
                bool ok;
                uint32_t cp;

                if (s[i] == '\n') {
                        line++;
                        lastnl = chars;
                }
                i += u8_next(s + i, p->len - i, false, &cp, &ok);
                chars++;
        }
        col = lastnl == SIZE_MAX ? chars + 1 : chars - lastnl;
        snprintf(err->text, sizeof(err->text), "%.64s: line %zu column %zu (char %zu)", p->msg, line, col, chars);
}

/* ---- the grammar steps pyjson_loads() and pyjson_scan() share ---- */

/* What comes next while reading a document. */
enum step {
        STEP_VALUE,  /* a value at p->pos */
        STEP_KEY,    /* an object member's key at p->pos */
        STEP_AFTER,  /* a value is complete: its container's ',' or bracket */
        STEP_DONE,   /* the root value is complete */
        STEP_ERROR,
};

/* json.loads() refuses a BOM before anything else. */
static bool no_bom(struct parser *p) {
        if (p->len >= 3 && memcmp(p->s, "\xEF\xBB\xBF", 3) == 0)
                return fail(p, "Unexpected UTF-8 BOM (decode using utf-8-sig)", 0);
        return true;
}

/* CPython's RecursionError text, which has no position. */
static bool too_deep(struct parser *p, bool obj) {
        snprintf(p->detail, sizeof(p->detail),
                 "maximum recursion depth exceeded while decoding a JSON %s from a unicode string",
                 obj ? "object" : "array");
        p->no_position = true;
        return fail(p, p->detail, p->pos);
}

/* The closing bracket of an object (obj) or array at p->pos: read it. */
static bool closes(struct parser *p, bool obj) {
        if (p->pos < p->len && p->s[p->pos] == (obj ? '}' : ']')) {
                p->pos++;
                return true;
        }
        return false;
}

/* After a member or an item: the container's closing bracket (*closed),
 * or ',' and the whitespace after it. */
static bool after_value(struct parser *p, bool obj, bool *closed) {
        skip_ws(p);
        *closed = closes(p, obj);
        if (*closed)
                return true;
        if (p->pos >= p->len || p->s[p->pos] != ',')
                return fail(p, "Expecting ',' delimiter", p->pos);
        p->pos++;
        skip_ws(p);
        return true;
}

/* An object member's key string at p->pos (into p->sb unless discarding). */
static bool member_key(struct parser *p) {
        if (p->pos >= p->len || p->s[p->pos] != '"')
                return fail(p, "Expecting property name enclosed in double quotes", p->pos);
        return parse_string(p);
}

/* The ':' after a member's key, with the whitespace around it. */
static bool member_colon(struct parser *p) {
        skip_ws(p);
        if (p->pos >= p->len || p->s[p->pos] != ':')
                return fail(p, "Expecting ':' delimiter", p->pos);
        p->pos++;
        skip_ws(p);
        return true;
}

/* ---- reader: the tree ---- */

/* pyjson_loads()'s state: the containers still open, innermost last. */
struct loader {
        struct parser p;
        size_t max_depth;
        struct frame *st;
        size_t depth, cap;
        json_t *v;      /* a complete value not yet in its container, owned */
        json_t *result; /* the root, once complete */
};

/* A value at p.pos: a scalar or an empty container is complete (l->v);
 * any other container opens a frame. */
static enum step load_value(struct loader *l) {
        struct parser *p = &l->p;

        if (p->pos >= p->len || (p->s[p->pos] != '{' && p->s[p->pos] != '[')) {
                l->v = parse_scalar(p);
                return l->v ? STEP_AFTER : STEP_ERROR;
        }
        bool obj = p->s[p->pos] == '{';
        if (l->depth >= l->max_depth)
                return too_deep(p, obj), STEP_ERROR;
        p->pos++;
        skip_ws(p);
        if (closes(p, obj)) {
                l->v = obj ? json_object() : json_array();
                return l->v ? STEP_AFTER : (p->oom = true, STEP_ERROR);
        }
        if (l->depth == l->cap) {
                size_t ncap = l->cap ? l->cap * 2 : 16;
                struct frame *nst = reallocarray(l->st, ncap, sizeof(*nst));
                if (!nst)
                        return p->oom = true, STEP_ERROR;
                l->st = nst;
                l->cap = ncap;
        }
        l->st[l->depth] = (struct frame) { .c = obj ? json_object() : json_array() };
        if (!l->st[l->depth].c)
                return p->oom = true, STEP_ERROR;
        l->depth++;
        return obj ? STEP_KEY : STEP_VALUE;
}

/* An object member's key, kept in its frame until the value comes. */
static enum step load_key(struct loader *l) {
        struct parser *p = &l->p;
        struct frame *f = &l->st[l->depth - 1];

        if (!member_key(p))
                return STEP_ERROR;
        f->key = malloc(p->sb.len + 1);
        if (!f->key)
                return p->oom = true, STEP_ERROR;
        memcpy(f->key, p->sb.p, p->sb.len);
        f->keylen = p->sb.len;
        return member_colon(p) ? STEP_VALUE : STEP_ERROR;
}

/* l->v goes into the innermost container (under its pending key), and
 * containers close, each then going into its own, as long as their
 * closing bracket follows. */
static enum step load_after(struct loader *l) {
        struct parser *p = &l->p;

        for (;;) {
                if (l->depth == 0) {
                        l->result = l->v;
                        l->v = NULL;
                        return STEP_DONE;
                }
                struct frame *f = &l->st[l->depth - 1];
                bool obj = json_is_object(f->c), closed;
                int r = obj ? json_object_setn_new_nocheck(f->c, f->key, f->keylen, l->v)
                            : json_array_append_new(f->c, l->v);
                l->v = NULL;
                free(f->key);
                f->key = NULL;
                if (r < 0)
                        return p->oom = true, STEP_ERROR;
                if (!after_value(p, obj, &closed))
                        return STEP_ERROR;
                if (!closed)
                        return obj ? STEP_KEY : STEP_VALUE;
                l->v = f->c;
                f->c = NULL;
                l->depth--;
        }
}

json_t *pyjson_loads(const char *buf, size_t len, size_t max_depth, struct pyjson_error *err) {
        struct loader l = { .p = { .s = buf, .len = len }, .max_depth = max_depth };
        enum step s = STEP_VALUE;

        if (err)
                err->text[0] = '\0';
        if (!buf && len > 0) {
                errno = EINVAL;
                return NULL;
        }
        if (!no_bom(&l.p))
                s = STEP_ERROR;
        skip_ws(&l.p);
        while (s != STEP_DONE && s != STEP_ERROR)
                s = s == STEP_VALUE ? load_value(&l) : s == STEP_KEY ? load_key(&l) : load_after(&l);
        if (s == STEP_DONE) {
                skip_ws(&l.p);
                if (l.p.pos == len) {
                        free(l.st);
                        free(l.p.sb.p);
                        return l.result;
                }
                fail(&l.p, "Extra data", l.p.pos);
        }

        if (!l.p.msg && !l.p.oom)
                l.p.oom = true;
        format_error(&l.p, err);
        json_decref(l.v);
        json_decref(l.result);
        for (size_t i = 0; i < l.depth; i++) {
                json_decref(l.st[i].c);
                free(l.st[i].key);
        }
        free(l.st);
        free(l.p.sb.p);
        errno = l.p.oom ? ENOMEM : EINVAL;
        return NULL;
}

/* ---- scanner: validation without a tree (for jsondoc.h) ---- */

/* An object's distinct keys while it is scanned. keys[2k] and keys[2k+1]
 * are the k-th distinct key's offset and the offset of its last value, in
 * first-seen order: what pyjson_index.pairs keeps of an object that repeats
 * a key, so that on closing such an object its keys are already its pairs.
 * The index over them is open addressing at a load of 3/4 at most: a slot
 * holds k + 1 in its low kbits and, in the bits above, a tag of the key's
 * SipHash, so that a probe rarely decodes a key that is not the one sought
 * (no hash is stored: a rebuild decodes the keys again).
 * Up to SMALL_KEYS keys the arrays double; an object with more has them
 * sized once, exactly, from its member count (count_members(): one lexical
 * pass over the document, run when the first object gets that large). So a
 * key costs 8 bytes plus 5.3 of index, whatever the attacker chooses, and
 * a frame still small under 1 KiB (at most max_depth of them are open). */
#define SMALL_KEYS 64

struct sframe {
        bool obj, dup;
        uint32_t at;
        uint32_t *keys;
        uint32_t n_keys, cap_keys;
        uint32_t *index; /* 0 empty, else tag | (k + 1) */
        uint32_t index_cap;
        unsigned kbits;
};

/* An object of more than SMALL_KEYS members: where it starts, how many. */
struct big_object {
        uint32_t at, n;
};

struct scan {
        struct parser *p;
        size_t max_depth;
        struct sframe *st;
        size_t depth, cap;
        struct buf cmp; /* a stored key decoded again, to compare */
        struct pyjson_dup *dups;
        size_t n_dups, cap_dups;
        uint32_t *pairs;
        size_t n_pairs, cap_pairs;
        bool counted; /* big[] is filled */
        struct big_object *big; /* sorted by at */
        size_t n_big;
};

static void sframe_free(struct sframe *f) {
        free(f->keys);
        free(f->index);
        *f = (struct sframe) { 0 };
}

/* The stored key at key_at (valid: it was scanned) decoded into sc->cmp. */
static bool decode_stored(struct scan *sc, uint32_t key_at) {
        struct parser q = { .s = sc->p->s, .len = sc->p->len, .pos = key_at, .sb = sc->cmp };
        bool ok = parse_string(&q);
        sc->cmp = q.sb;
        if (!ok && q.oom)
                sc->p->oom = true;
        return ok;
}

/* The key string at key_at equals the one just decoded into p->sb. */
static bool key_equals(struct scan *sc, uint32_t key_at) {
        return decode_stored(sc, key_at) && sc->cmp.len == sc->p->sb.len &&
               memcmp(sc->cmp.p, sc->p->sb.p, sc->cmp.len) == 0;
}

static uint64_t key_hash(const struct buf *b) { return siphash_bytes(b->p ? b->p : "", b->len); }

/* The slot where a key of hash h starts probing, and its tag. */
static uint32_t index_home(const struct sframe *f, uint64_t h) {
        return (uint32_t) (((h >> 32) * f->index_cap) >> 32);
}
static uint32_t index_tag(const struct sframe *f, uint64_t h) { return (uint32_t) h << f->kbits; }

/* The slot holding the key of hash h just decoded into p->sb, or the
 * empty slot where it goes (*found false). */
static bool index_find(struct scan *sc, struct sframe *f, uint64_t h, uint32_t *slot, bool *found) {
        uint32_t tag = index_tag(f, h), low = (1u << f->kbits) - 1;

        for (uint32_t i = index_home(f, h);; i = i + 1 == f->index_cap ? 0 : i + 1) {
                uint32_t v = f->index[i];
                if (!v || ((v & ~low) == tag && key_equals(sc, f->keys[2 * ((v & low) - 1)]))) {
                        *slot = i;
                        *found = v != 0;
                        return true;
                }
                if (sc->p->oom)
                        return false;
        }
}

static int big_cmp(const void *a, const void *b) {
        uint32_t x = ((const struct big_object *) a)->at, y = ((const struct big_object *) b)->at;
        return x < y ? -1 : x > y;
}

/* The lexical pass: the member count of every object of more than
 * SMALL_KEYS members, by the commas at its own level (exact for a valid
 * document; for an invalid one only a capacity, and scan_key() copes with
 * more). Stops where the scan must fail: past max_depth. */
static bool count_members(struct scan *sc) {
        const char *s = sc->p->s;
        size_t len = sc->p->len, d = 0, cap = 0, cap_big = 0;
        struct level {
                uint32_t at, commas;
                bool obj;
        } *st = NULL;
        bool ok = true;

        for (size_t i = 0; i < len && ok; i++) {
                switch (s[i]) {
                case '"':
                        for (i++; i < len && s[i] != '"'; i++)
                                if (s[i] == '\\')
                                        i++;
                        break;
                case '{':
                case '[':
                        if (d >= sc->max_depth)
                                goto done;
                        if (d == cap) {
                                size_t ncap = cap ? cap * 2 : 16;
                                struct level *nst = reallocarray(st, ncap, sizeof *nst);
                                if (!nst) {
                                        ok = false;
                                        break;
                                }
                                st = nst;
                                cap = ncap;
                        }
                        st[d++] = (struct level) { (uint32_t) i, 0, s[i] == '{' };
                        break;
                case '}':
                case ']':
                        if (d == 0)
                                goto done;
                        d--;
                        if (!st[d].obj || st[d].commas < SMALL_KEYS)
                                break;
                        if (sc->n_big == cap_big) {
                                size_t ncap = cap_big ? cap_big * 2 : 16;
                                struct big_object *nb = reallocarray(sc->big, ncap, sizeof *nb);
                                if (!nb) {
                                        ok = false;
                                        break;
                                }
                                sc->big = nb;
                                cap_big = ncap;
                        }
                        sc->big[sc->n_big++] = (struct big_object) { st[d].at, st[d].commas + 1 };
                        break;
                case ',':
                        if (d)
                                st[d - 1].commas++;
                        break;
                }
        }
done:
        free(st);
        sc->counted = true;
        if (sc->n_big > 1) /* recorded as they closed */
                qsort(sc->big, sc->n_big, sizeof *sc->big, big_cmp);
        return ok;
}

/* How many keys the object at at can have: its member count when it has
 * more than SMALL_KEYS, else 0 (unknown). */
static uint32_t members_of(struct scan *sc, uint32_t at) {
        if (!sc->counted && !count_members(sc))
                return 0;
        size_t lo = 0, hi = sc->n_big;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (sc->big[mid].at == at)
                        return sc->big[mid].n;
                if (sc->big[mid].at < at)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return 0;
}

/* Room for one more key: the arrays at their next size, the index built
 * again over the keys there are. */
static bool keys_grow(struct scan *sc, struct sframe *f) {
        uint32_t ncap;

        if (f->cap_keys < SMALL_KEYS)
                ncap = f->cap_keys ? f->cap_keys * 2 : 8;
        else {
                ncap = members_of(sc, f->at);
                if (sc->p->oom)
                        return false;
                if (ncap <= f->cap_keys) /* not counted: an invalid document */
                        ncap = f->cap_keys + f->cap_keys / 2;
        }
        /* a key takes 4 bytes of text at least: never reached below 4 GiB */
        if (ncap > (1u << 30))
                return false;
        uint32_t *nk = reallocarray(f->keys, ncap, 2 * sizeof *nk);
        if (!nk)
                return false;
        f->keys = nk;
        f->cap_keys = ncap;

        free(f->index);
        f->index_cap = ncap + ncap / 3 + 1;
        f->index = calloc(f->index_cap, sizeof *f->index);
        if (!f->index)
                return false;
        f->kbits = 1;
        while ((ncap >> f->kbits) != 0)
                f->kbits++;
        for (uint32_t k = 0; k < f->n_keys; k++) {
                if (!decode_stored(sc, f->keys[2 * k]))
                        return false;
                uint32_t i = index_home(f, key_hash(&sc->cmp));
                while (f->index[i])
                        i = i + 1 == f->index_cap ? 0 : i + 1;
                f->index[i] = index_tag(f, key_hash(&sc->cmp)) | (k + 1);
        }
        return true;
}

/* The key just decoded into p->sb, at key_at, with its value at value_at:
 * a new key, or a repeated one whose value is now this one. */
static bool scan_key(struct scan *sc, struct sframe *f, size_t key_at, size_t value_at) {
        struct parser *p = sc->p;
        uint64_t h = key_hash(&p->sb);
        uint32_t i;
        bool found = false;

        if (f->cap_keys && !index_find(sc, f, h, &i, &found))
                return false;
        if (found) {
                f->keys[2 * ((f->index[i] & ((1u << f->kbits) - 1)) - 1) + 1] = (uint32_t) value_at;
                f->dup = true;
                return true;
        }
        if (f->n_keys == f->cap_keys) {
                if (!keys_grow(sc, f))
                        return p->oom = true, false;
                if (!index_find(sc, f, h, &i, &found))
                        return false;
        }
        f->keys[2 * f->n_keys] = (uint32_t) key_at;
        f->keys[2 * f->n_keys + 1] = (uint32_t) value_at;
        f->index[i] = index_tag(f, h) | ++f->n_keys;
        return true;
}

/* An object closes: when it repeated a key, keep its distinct keys, which
 * are its pairs already: the first such object's array becomes the
 * document's, the next ones are appended to it. */
static bool scan_close(struct scan *sc, struct sframe *f) {
        if (!f->obj || !f->dup)
                return true;
        free(TAKE_PTR(f->index));
        if (sc->n_dups == sc->cap_dups) {
                size_t ncap = sc->cap_dups ? sc->cap_dups * 2 : 8;
                struct pyjson_dup *nd = reallocarray(sc->dups, ncap, sizeof *nd);
                if (!nd)
                        return false;
                sc->dups = nd;
                sc->cap_dups = ncap;
        }
        sc->dups[sc->n_dups++] = (struct pyjson_dup) { f->at, (uint32_t) sc->p->pos, (uint32_t) (sc->n_pairs / 2),
                                                         f->n_keys };
        size_t n = 2 * (size_t) f->n_keys;
        if (!sc->pairs) {
                sc->pairs = TAKE_PTR(f->keys);
                sc->cap_pairs = 2 * (size_t) f->cap_keys;
                sc->n_pairs = n;
                return true;
        }
        if (sc->n_pairs + n > sc->cap_pairs) {
                size_t ncap = sc->cap_pairs;
                while (ncap < sc->n_pairs + n)
                        ncap *= 2;
                uint32_t *np = reallocarray(sc->pairs, ncap, sizeof *np);
                if (!np)
                        return false;
                sc->pairs = np;
                sc->cap_pairs = ncap;
        }
        memcpy(sc->pairs + sc->n_pairs, f->keys, n * sizeof *f->keys);
        sc->n_pairs += n;
        return true;
}

/* A scalar at p->pos, validated as parse_scalar() would parse it. */
static bool scan_scalar(struct parser *p) {
        const char *s = p->s + p->pos;
        size_t rem = p->len - p->pos, n;
        bool is_float;

        if (rem == 0)
                return fail(p, "Expecting value", p->pos);
        switch (s[0]) {
        case '"':
                return parse_string(p);
        case 'n':
                if (rem >= 4 && memcmp(s, "null", 4) == 0)
                        return p->pos += 4, true;
                break;
        case 't':
                if (rem >= 4 && memcmp(s, "true", 4) == 0)
                        return p->pos += 4, true;
                break;
        case 'f':
                if (rem >= 5 && memcmp(s, "false", 5) == 0)
                        return p->pos += 5, true;
                break;
        case 'N':
                if (rem >= 3 && memcmp(s, "NaN", 3) == 0)
                        return p->pos += 3, true;
                break;
        case 'I':
                if (rem >= 8 && memcmp(s, "Infinity", 8) == 0)
                        return p->pos += 8, true;
                break;
        case '-':
                if (rem >= 9 && memcmp(s, "-Infinity", 9) == 0)
                        return p->pos += 9, true;
                break;
        }
        n = match_number(s, rem, &is_float);
        if (n == 0)
                return fail(p, "Expecting value", p->pos);
        if (!is_float && !int_digits_ok(p, p->pos, n))
                return false;
        p->pos += n;
        return true;
}

static int dup_cmp(const void *a, const void *b) {
        uint32_t x = ((const struct pyjson_dup *) a)->at, y = ((const struct pyjson_dup *) b)->at;
        return x < y ? -1 : x > y;
}

/* A value at p->pos: a scalar or an empty container is complete; any
 * other container opens a frame. */
static enum step scan_value(struct scan *sc) {
        struct parser *p = sc->p;

        if (p->pos >= p->len || (p->s[p->pos] != '{' && p->s[p->pos] != '['))
                return scan_scalar(p) ? STEP_AFTER : STEP_ERROR;
        bool obj = p->s[p->pos] == '{';
        size_t at = p->pos;
        if (sc->depth >= sc->max_depth)
                return too_deep(p, obj), STEP_ERROR;
        p->pos++;
        skip_ws(p);
        if (closes(p, obj))
                return STEP_AFTER;
        if (sc->depth == sc->cap) {
                size_t ncap = sc->cap ? sc->cap * 2 : 16;
                struct sframe *nst = reallocarray(sc->st, ncap, sizeof(*nst));
                if (!nst)
                        return p->oom = true, STEP_ERROR;
                sc->st = nst;
                sc->cap = ncap;
        }
        sc->st[sc->depth++] = (struct sframe) { .obj = obj, .at = (uint32_t) at };
        return obj ? STEP_KEY : STEP_VALUE;
}

/* An object member's key, decoded to be compared with the object's others. */
static enum step scan_member_key(struct scan *sc) {
        struct parser *p = sc->p;
        size_t key_at = p->pos;

        p->discard = false;
        bool ok = member_key(p);
        p->discard = true;
        if (!ok || !member_colon(p))
                return STEP_ERROR;
        return scan_key(sc, &sc->st[sc->depth - 1], key_at, p->pos) ? STEP_VALUE : STEP_ERROR;
}

/* A value is complete: containers close as long as their closing bracket
 * follows. */
static enum step scan_after(struct scan *sc) {
        struct parser *p = sc->p;

        for (;;) {
                if (sc->depth == 0)
                        return STEP_DONE;
                struct sframe *f = &sc->st[sc->depth - 1];
                bool closed;
                if (!after_value(p, f->obj, &closed))
                        return STEP_ERROR;
                if (!closed)
                        return f->obj ? STEP_KEY : STEP_VALUE;
                if (!scan_close(sc, f))
                        return p->oom = true, STEP_ERROR;
                sframe_free(f);
                sc->depth--;
        }
}

/* The document is valid: its index, sorted, kept without room to spare
 * (it grew by doubling; a failed shrink leaves it as it is). */
static void scan_index(struct scan *sc, struct pyjson_index *idx) {
        if (sc->n_dups > 1)
                qsort(sc->dups, sc->n_dups, sizeof *sc->dups, dup_cmp);
        if (sc->n_dups < sc->cap_dups) {
                struct pyjson_dup *nd = reallocarray(sc->dups, sc->n_dups ? sc->n_dups : 1, sizeof *nd);
                if (nd)
                        sc->dups = nd;
        }
        if (sc->n_pairs < sc->cap_pairs) {
                uint32_t *np = reallocarray(sc->pairs, sc->n_pairs ? sc->n_pairs : 1, sizeof *np);
                if (np)
                        sc->pairs = np;
        }
        idx->dups = sc->dups;
        idx->n_dups = sc->n_dups;
        idx->pairs = sc->pairs;
        idx->n_pairs = sc->n_pairs / 2;
        sc->dups = NULL;
        sc->pairs = NULL;
}

int pyjson_scan(const char *buf, size_t len, size_t max_depth, struct pyjson_error *err, struct pyjson_index *idx) {
        struct parser p = { .s = buf, .len = len, .discard = true };
        struct scan sc = { .p = &p, .max_depth = max_depth };
        enum step s = STEP_VALUE;

        if (err)
                err->text[0] = '\0';
        if ((!buf && len > 0) || len > UINT32_MAX) {
                errno = len > UINT32_MAX ? EFBIG : EINVAL;
                return -errno;
        }
        if (!no_bom(&p))
                s = STEP_ERROR;
        skip_ws(&p);
        idx->root = p.pos;
        while (s != STEP_DONE && s != STEP_ERROR)
                s = s == STEP_VALUE ? scan_value(&sc) : s == STEP_KEY ? scan_member_key(&sc) : scan_after(&sc);
        if (s == STEP_DONE) {
                skip_ws(&p);
                if (p.pos == len)
                        scan_index(&sc, idx);
                else
                        fail(&p, "Extra data", p.pos);
        }

        int r = 0;
        if (s != STEP_DONE || p.msg) {
                if (!p.msg && !p.oom)
                        p.oom = true;
                format_error(&p, err);
                r = p.oom ? -ENOMEM : -EINVAL;
                errno = -r;
        }
        for (size_t i = 0; i < sc.depth; i++)
                sframe_free(&sc.st[i]);
        free(sc.st);
        free(sc.cmp.p);
        free(sc.big);
        free(sc.dups);
        free(sc.pairs);
        free(p.sb.p);
        return r;
}

/* ---- writer ---- */

/* \uXXXX of one UTF-16 unit. */
static void escape_u(uint32_t u, char *out) {
        static const char hex[] = "0123456789abcdef";

        out[0] = '\\', out[1] = 'u';
        for (int k = 0; k < 4; k++)
                out[2 + k] = hex[(u >> (12 - 4 * k)) & 15];
}

size_t pyjson_escape_cp(uint32_t cp, char out[PYJSON_ESCAPE_BUFSZ]) {
        const char *two = NULL;

        switch (cp) {
        case '"': two = "\\\""; break;
        case '\\': two = "\\\\"; break;
        case '\n': two = "\\n"; break;
        case '\r': two = "\\r"; break;
        case '\t': two = "\\t"; break;
        case '\b': two = "\\b"; break;
        case '\f': two = "\\f"; break;
        }
        if (two) {
                memcpy(out, two, 2);
                return 2;
        }
        if (cp >= 0x20 && cp < 0x7F) {
                out[0] = (char) cp;
                return 1;
        }
        if (cp >= 0x10000) {
                uint32_t v = cp - 0x10000;
                escape_u(0xD800 | (v >> 10), out);
                escape_u(0xDC00 | (v & 0x3FF), out + 6);
                return 12;
        }
        escape_u(cp, out);
        return 6;
}

static bool dump_string(struct buf *b, const char *s, size_t len) {
        size_t i = 0;

        buf_putc(b, '"');
        while (i < len) {
                unsigned char c = (unsigned char) s[i];
                uint32_t cp;
                bool ok;
                size_t n;
                char e[PYJSON_ESCAPE_BUFSZ];

                if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
                        size_t run = i + 1;
                        while (run < len && (unsigned char) s[run] >= 0x20 && (unsigned char) s[run] < 0x7F &&
                               s[run] != '"' && s[run] != '\\')
                                run++;
                        buf_put(b, s + i, run - i);
                        i = run;
                        continue;
                }
                n = u8_next((const unsigned char *) s + i, len - i, true, &cp, &ok);
                if (!ok)
                        return false;
                i += n;
                buf_put(b, e, pyjson_escape_cp(cp, e));
        }
        buf_putc(b, '"');
        return true;
}

static bool dump(struct buf *b, const json_t *v, unsigned depth) {
        char num[PYJSON_DOUBLE_BUFSZ];

        if (b->oom || depth > DUMPS_MAX_DEPTH || !v)
                return false;
        switch (json_typeof(v)) {
        case JSON_NULL: buf_puts(b, "null"); return true;
        case JSON_TRUE: buf_puts(b, "true"); return true;
        case JSON_FALSE: buf_puts(b, "false"); return true;
        case JSON_INTEGER:
                snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
                buf_puts(b, num);
                return true;
        case JSON_REAL:
                pyjson_format_double(json_real_value(v), num);
                buf_puts(b, num);
                return true;
        case JSON_STRING: return dump_string(b, json_string_value(v), json_string_length(v));
        case JSON_ARRAY: {
                size_t i, n = json_array_size(v);

                buf_putc(b, '[');
                for (i = 0; i < n; i++) {
                        if (i)
                                buf_puts(b, ", ");
                        if (!dump(b, json_array_get(v, i), depth + 1))
                                return false;
                }
                buf_putc(b, ']');
                return true;
        }
        case JSON_OBJECT: {
                const char *raw = pyjson_raw_text(v);
                bool first = true;

                if (raw) {
                        buf_puts(b, raw);
                        return true;
                }
                buf_putc(b, '{');
                for (void *it = json_object_iter((json_t *) v); it;
                     it = json_object_iter_next((json_t *) v, it)) {
                        if (!first)
                                buf_puts(b, ", ");
                        first = false;
                        if (!dump_string(b, json_object_iter_key(it), json_object_iter_key_len(it)))
                                return false;
                        buf_puts(b, ": ");
                        if (!dump(b, json_object_iter_value(it), depth + 1))
                                return false;
                }
                buf_putc(b, '}');
                return true;
        }
        }
        return false;
}

char *pyjson_dumps(const json_t *v, size_t *len_out) {
        struct buf b = {};

        if (!dump(&b, v, 0) || b.oom || !b.p) {
                errno = b.oom ? ENOMEM : EINVAL;
                free(b.p);
                return NULL;
        }
        if (len_out)
                *len_out = b.len;
        return b.p;
}
