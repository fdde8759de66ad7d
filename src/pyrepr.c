/* Python repr() of bytes (for emsg, SPEC §4) and of the values json.loads
 * builds (for jsonschema-style reasons, SPEC §3), following CPython 3.11's
 * bytes_repr and unicode_repr.
 *
 * str.isprintable() needs the Unicode database; we approximate it for
 * non-ASCII with a table of the non-printable ranges that matter in
 * practice: C1 controls, format and separator characters (Cf, Zs, Zl, Zp),
 * surrogates, private use, noncharacters and the large unassigned areas of
 * Unicode 14 (CPython 3.11). Other unassigned code points inside assigned
 * blocks are treated as printable (CPython would escape them). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyjson.h"
#include "pyrepr.h"

#define REPR_MAX_DEPTH 4096

struct out {
        char *p;
        size_t len, cap;
        size_t max; /* stop past this many bytes (SIZE_MAX: unbounded) */
        bool oom, truncated;
};

static bool out_full(const struct out *o) { return o->oom || o->truncated; }

static void put(struct out *o, const void *data, size_t n) {
        if (out_full(o))
                return;
        if (n > o->max - o->len) {
                /* keep what fits; never split a UTF-8 sequence */
                size_t fit = o->max - o->len;
                const unsigned char *d = data;
                while (fit > 0 && fit < n && (d[fit] & 0xC0) == 0x80)
                        fit--;
                n = fit;
                o->truncated = true;
        }
        if (o->len + n + 1 > o->cap) {
                size_t ncap = o->cap ? o->cap : 64;
                char *np;
                while (ncap < o->len + n + 1) {
                        if (ncap > SIZE_MAX / 2) {
                                o->oom = true;
                                return;
                        }
                        ncap *= 2;
                }
                np = realloc(o->p, ncap);
                if (!np) {
                        o->oom = true;
                        return;
                }
                o->p = np;
                o->cap = ncap;
        }
        memcpy(o->p + o->len, data, n);
        o->len += n;
        o->p[o->len] = '\0';
}

static void puts_(struct out *o, const char *s) { put(o, s, strlen(s)); }

static char *finish(struct out *o, bool *truncated) {
        if (o->oom) {
                free(o->p);
                errno = ENOMEM;
                return NULL;
        }
        if (!o->p) {
                o->p = strdup("");
                if (!o->p)
                        errno = ENOMEM;
        }
        if (truncated)
                *truncated = o->truncated;
        return o->p;
}

char *pyrepr_bytes(const void *buf, size_t len) {
        static const char hex[] = "0123456789abcdef";
        const unsigned char *s = buf;
        struct out o = { .max = SIZE_MAX };
        bool squote = false, dquote = false;
        char quote;

        for (size_t i = 0; i < len; i++) {
                squote |= s[i] == '\'';
                dquote |= s[i] == '"';
        }
        quote = squote && !dquote ? '"' : '\'';
        put(&o, "b", 1);
        put(&o, &quote, 1);
        for (size_t i = 0; i < len && !o.oom;) {
                unsigned char c = s[i];
                char e[4];

                if (c >= 0x20 && c < 0x7F && c != quote && c != '\\') {
                        size_t run = i + 1;
                        while (run < len && s[run] >= 0x20 && s[run] < 0x7F && s[run] != quote && s[run] != '\\')
                                run++;
                        put(&o, s + i, run - i);
                        i = run;
                        continue;
                }
                i++;
                e[0] = '\\';
                if (c == quote || c == '\\') {
                        e[1] = (char) c;
                        put(&o, e, 2);
                } else if (c == '\t' || c == '\n' || c == '\r') {
                        e[1] = c == '\t' ? 't' : c == '\n' ? 'n' : 'r';
                        put(&o, e, 2);
                } else {
                        e[1] = 'x';
                        e[2] = hex[c >> 4];
                        e[3] = hex[c & 15];
                        put(&o, e, 4);
                }
        }
        put(&o, &quote, 1);
        return finish(&o, NULL);
}

static const struct {
        uint32_t lo, hi;
} nonprintable[] = {
        { 0x0080, 0x00A0 },   { 0x00AD, 0x00AD },   { 0x0378, 0x0379 },   { 0x0380, 0x0383 },
        { 0x038B, 0x038B },   { 0x038D, 0x038D },   { 0x03A2, 0x03A2 },   { 0x0530, 0x0530 },
        { 0x0557, 0x0558 },   { 0x058B, 0x058C },   { 0x0590, 0x0590 },   { 0x05C8, 0x05CF },
        { 0x05EB, 0x05EE },   { 0x05F5, 0x0605 },   { 0x061C, 0x061C },   { 0x06DD, 0x06DD },
        { 0x070E, 0x070F },   { 0x0890, 0x0891 },   { 0x08E2, 0x08E2 },   { 0x180E, 0x180E },
        { 0x1680, 0x1680 },   { 0x2000, 0x200F },   { 0x2028, 0x202F },   { 0x205F, 0x206F },
        { 0x3000, 0x3000 },   { 0xD800, 0xF8FF },   { 0xFEFF, 0xFEFF },   { 0xFFF0, 0xFFFB },
        { 0x110BD, 0x110BD }, { 0x110CD, 0x110CD }, { 0x13430, 0x1343F }, { 0x1BCA0, 0x1BCA3 },
        { 0x1D173, 0x1D17A }, { 0x2A6E0, 0x2A6FF }, { 0x2FA1E, 0x2FFFF }, { 0x3134B, 0xE00FF },
        { 0xE01F0, 0x10FFFF },
};

static bool is_printable(uint32_t cp) {
        if (cp < 0x80)
                return cp >= 0x20 && cp < 0x7F;
        if ((cp & 0xFFFE) == 0xFFFE || (cp >= 0xFDD0 && cp <= 0xFDEF))
                return false;
        for (size_t i = 0; i < sizeof(nonprintable) / sizeof(nonprintable[0]); i++) {
                if (cp < nonprintable[i].lo)
                        return true;
                if (cp <= nonprintable[i].hi)
                        return false;
        }
        return true;
}

static void repr_str(struct out *o, const char *s, size_t len) {
        static const char hex[] = "0123456789abcdef";
        bool squote = memchr(s, '\'', len) != NULL, dquote = memchr(s, '"', len) != NULL;
        char quote = squote && !dquote ? '"' : '\'';

        put(o, &quote, 1);
        for (size_t i = 0; i < len && !out_full(o);) {
                unsigned char c = (unsigned char) s[i];
                uint32_t cp;
                size_t n;
                char e[12];

                if (c >= 0x20 && c < 0x7F && c != quote && c != '\\') {
                        size_t run = i + 1;
                        while (run < len && (unsigned char) s[run] >= 0x20 && (unsigned char) s[run] < 0x7F &&
                               s[run] != quote && s[run] != '\\')
                                run++;
                        put(o, s + i, run - i);
                        i = run;
                        continue;
                }
                n = pyjson_utf8_next(s + i, len - i, &cp);
                if (n == 0) {
                        /* not generalized UTF-8 (never from pyjson_loads):
                         * show it as the replacement character */
                        cp = 0xFFFD;
                        n = 1;
                }
                if (cp == (uint32_t) quote || cp == '\\') {
                        e[0] = '\\', e[1] = (char) cp;
                        put(o, e, 2);
                } else if (cp == '\t' || cp == '\n' || cp == '\r') {
                        e[0] = '\\', e[1] = cp == '\t' ? 't' : cp == '\n' ? 'n' : 'r';
                        put(o, e, 2);
                } else if (is_printable(cp)) {
                        if (n == 1 && cp == 0xFFFD)
                                put(o, "\xEF\xBF\xBD", 3);
                        else
                                put(o, s + i, n);
                } else if (cp <= 0xFF) {
                        e[0] = '\\', e[1] = 'x', e[2] = hex[cp >> 4], e[3] = hex[cp & 15];
                        put(o, e, 4);
                } else if (cp <= 0xFFFF) {
                        e[0] = '\\', e[1] = 'u';
                        for (int k = 0; k < 4; k++)
                                e[2 + k] = hex[(cp >> (12 - 4 * k)) & 15];
                        put(o, e, 6);
                } else {
                        e[0] = '\\', e[1] = 'U';
                        for (int k = 0; k < 8; k++)
                                e[2 + k] = hex[(cp >> (28 - 4 * k)) & 15];
                        put(o, e, 10);
                }
                i += n;
        }
        put(o, &quote, 1);
}

static bool repr_value(struct out *o, const json_t *v, unsigned depth) {
        char num[PYJSON_DOUBLE_BUFSZ > 32 ? PYJSON_DOUBLE_BUFSZ : 32];

        if (out_full(o))
                return true;
        if (!v || depth > REPR_MAX_DEPTH)
                return false;
        switch (json_typeof(v)) {
        case JSON_NULL: puts_(o, "None"); return true;
        case JSON_TRUE: puts_(o, "True"); return true;
        case JSON_FALSE: puts_(o, "False"); return true;
        case JSON_INTEGER:
                snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
                puts_(o, num);
                return true;
        case JSON_REAL:
                pyjson_format_double(json_real_value(v), num);
                puts_(o, num);
                return true;
        case JSON_STRING: repr_str(o, json_string_value(v), json_string_length(v)); return true;
        case JSON_ARRAY:
                puts_(o, "[");
                for (size_t i = 0; i < json_array_size(v) && !out_full(o); i++) {
                        if (i)
                                puts_(o, ", ");
                        if (!repr_value(o, json_array_get(v, i), depth + 1))
                                return false;
                }
                puts_(o, "]");
                return true;
        case JSON_OBJECT: {
                const char *raw = pyjson_raw_text(v);
                bool first = true;

                if (raw) {
                        if (strcmp(raw, "NaN") == 0)
                                puts_(o, "nan");
                        else if (strcmp(raw, "Infinity") == 0)
                                puts_(o, "inf");
                        else if (strcmp(raw, "-Infinity") == 0)
                                puts_(o, "-inf");
                        else if (strpbrk(raw, ".eE")) {
                                pyjson_format_double(strtod(raw, NULL), num);
                                puts_(o, num);
                        } else
                                puts_(o, raw);
                        return true;
                }
                puts_(o, "{");
                for (void *it = json_object_iter((json_t *) v); it && !out_full(o);
                     it = json_object_iter_next((json_t *) v, it)) {
                        if (!first)
                                puts_(o, ", ");
                        first = false;
                        repr_str(o, json_object_iter_key(it), json_object_iter_key_len(it));
                        puts_(o, ": ");
                        if (!repr_value(o, json_object_iter_value(it), depth + 1))
                                return false;
                }
                puts_(o, "}");
                return true;
        }
        }
        return false;
}

char *pyrepr_value_max(const json_t *v, size_t max_len, bool *truncated) {
        struct out o = { .max = max_len };

        if (!repr_value(&o, v, 0)) {
                free(o.p);
                errno = EINVAL;
                return NULL;
        }
        return finish(&o, truncated);
}

char *pyrepr_value(const json_t *v) { return pyrepr_value_max(v, SIZE_MAX, NULL); }
