/* SPDX-License-Identifier: Apache-2.0 */
/* A JSON document kept as its text (jsondoc.h). pyjson_scan() has
 * validated it, so the readers here need no error paths: every offset they
 * are given starts a value, a string or a member, and every token is
 * complete. What they produce must be what pyjson.c produces from the tree
 * json.loads() would build: the same decoded strings, the same dumps()
 * bytes, the same values (tests/unit/test-jsondoc.c compares both ways). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsondoc.h"
#include "macro.h"
#include "pyjson.h"

/* Values nested deeper than this are never walked: pyjson_scan's
 * max_depth bounds every document (PAYLOAD_MAX_DEPTH, SAFEEXEC_MAX_DEPTH);
 * this only keeps the recursion below finite whatever a caller passes. */
#define WALK_MAX_DEPTH 4096

int jsondoc_parse(struct jsondoc *d, const char *text, size_t len, size_t max_depth, struct pyjson_error *err) {
        struct pyjson_index idx;
        int r = pyjson_scan(text ? text : "", len, max_depth, err, &idx);
        if (r < 0) {
                *d = (struct jsondoc) { 0 };
                return r;
        }
        *d = (struct jsondoc) { .text = text, .len = len, .root = idx.root, .dups = idx.dups, .n_dups = idx.n_dups,
                                .pairs = idx.pairs, .n_pairs = idx.n_pairs };
        return r;
}

void jsondoc_done(struct jsondoc *d) {
        if (!d)
                return;
        free(d->dups);
        free(d->pairs);
        *d = (struct jsondoc) { 0 };
}

static size_t ws(const struct jsondoc *d, size_t i) {
        while (i < d->len && (d->text[i] == ' ' || d->text[i] == '\t' || d->text[i] == '\n' || d->text[i] == '\r'))
                i++;
        return i;
}

enum jsondoc_type jsondoc_type(const struct jsondoc *d, size_t at) {
        bool is_float;

        switch (d->text[at]) {
        case '{': return JSONDOC_OBJECT;
        case '[': return JSONDOC_ARRAY;
        case '"': return JSONDOC_STRING;
        case 't': return JSONDOC_TRUE;
        case 'f': return JSONDOC_FALSE;
        case 'n': return JSONDOC_NULL;
        case 'N':
        case 'I': return JSONDOC_CONSTANT;
        case '-':
                if (at + 1 < d->len && d->text[at + 1] == 'I')
                        return JSONDOC_CONSTANT;
                break;
        }
        pyjson_number_len(d->text + at, d->len - at, &is_float);
        return is_float ? JSONDOC_REAL : JSONDOC_INTEGER;
}

static size_t skip_string(const struct jsondoc *d, size_t i) {
        const char *t = d->text;

        for (i++;; i++) {
                if (t[i] == '"')
                        return i + 1;
                if (t[i] == '\\')
                        i++; /* the escaped character ('u' of \uXXXX: its digits are plain) */
        }
}

static const struct pyjson_dup *find_dup(const struct jsondoc *d, size_t at) {
        size_t lo = 0, hi = d->n_dups;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (d->dups[mid].at == at)
                        return &d->dups[mid];
                if (d->dups[mid].at < at)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

size_t jsondoc_skip(const struct jsondoc *d, size_t at) {
        const char *t = d->text;
        bool is_float;

        switch (t[at]) {
        case '"':
                return skip_string(d, at);
        case '{':
        case '[': {
                const struct pyjson_dup *dup = t[at] == '{' ? find_dup(d, at) : NULL;
                if (dup)
                        return dup->end;
                size_t depth = 0, i = at;
                for (;;) {
                        char c = t[i];
                        if (c == '"') {
                                i = skip_string(d, i);
                                continue;
                        }
                        if (c == '{' || c == '[')
                                depth++;
                        else if ((c == '}' || c == ']') && --depth == 0)
                                return i + 1;
                        i++;
                }
        }
        case 't':
        case 'n': return at + 4;
        case 'f': return at + 5;
        case 'N': return at + 3;
        case 'I': return at + 8;
        case '-':
                if (t[at + 1] == 'I')
                        return at + 9;
                break;
        }
        return at + pyjson_number_len(t + at, d->len - at, &is_float);
}

void jsondoc_iter_init(const struct jsondoc *d, size_t at, struct jsondoc_iter *it) {
        *it = (struct jsondoc_iter) { .pos = at, .object = d->text[at] == '{' };
        if (it->object)
                it->dup = find_dup(d, at);
}

/* Once it is done: the offset past the container. */
static size_t iter_end(const struct jsondoc *d, const struct jsondoc_iter *it) {
        return it->dup ? it->dup->end : it->pos + 1;
}

bool jsondoc_iter_next(const struct jsondoc *d, struct jsondoc_iter *it, size_t *key_at, size_t *value_at) {
        const char *t = d->text;
        size_t pos;

        if (it->done)
                return false;
        if (it->dup) {
                if (it->i >= it->dup->n) {
                        it->done = true;
                        return false;
                }
                const uint32_t *pair = d->pairs + 2 * ((size_t) it->dup->first + it->i++);
                *key_at = pair[0];
                *value_at = pair[1];
                return true;
        }
        if (it->i++ == 0)
                pos = ws(d, it->pos + 1);
        else {
                /* past the previous value, then ',' or the closing bracket */
                pos = ws(d, it->value_end ? it->value_end : jsondoc_skip(d, it->pos));
                if (t[pos] == ',')
                        pos = ws(d, pos + 1);
        }
        if (t[pos] == '}' || t[pos] == ']') {
                it->pos = pos;
                it->done = true;
                return false;
        }
        if (it->object) {
                *key_at = pos;
                pos = ws(d, skip_string(d, pos));
                pos = ws(d, pos + 1); /* ':' */
        } else
                *key_at = SIZE_MAX;
        *value_at = it->pos = pos;
        it->value_end = 0;
        return true;
}

/* ---- strings ---- */

static uint32_t hex4(const char *s) {
        uint32_t v = 0;
        for (int i = 0; i < 4; i++)
                v = v << 4 | (uint32_t) unhexchar(s[i]);
        return v;
}

/* One code point of the string whose content continues at *i: what
 * json.loads() decodes there (a lone surrogate stays one), and *i moves
 * past it. The caller has handled the plain ASCII runs and the end. */
static uint32_t next_cp(const struct jsondoc *d, size_t *i) {
        const char *t = d->text;
        uint32_t cp;

        if (t[*i] != '\\') {
                *i += pyjson_utf8_decode(t + *i, d->len - *i, &cp);
                return cp;
        }
        char e = t[*i + 1];
        if (e != 'u') {
                static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
                *i += 2;
                return (unsigned char) to[strchr(from, e) - from];
        }
        cp = hex4(t + *i + 2);
        *i += 6;
        /* CPython joins a high surrogate with a following low one. */
        if (cp >= 0xD800 && cp <= 0xDBFF && t[*i] == '\\' && t[*i + 1] == 'u') {
                uint32_t lo = hex4(t + *i + 2);
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        *i += 6;
                }
        }
        return cp;
}

static bool plain(char c) {
        return (unsigned char) c >= 0x20 && (unsigned char) c < 0x7F && c != '"' && c != '\\';
}

/* Generalized UTF-8 (surrogates as 3 bytes, as pyjson stores them). */
static size_t u8_encode(uint32_t cp, char t[4]) {
        if (cp < 0x80) {
                t[0] = (char) cp;
                return 1;
        }
        if (cp < 0x800) {
                t[0] = (char) (0xC0 | cp >> 6);
                t[1] = (char) (0x80 | (cp & 0x3F));
                return 2;
        }
        if (cp < 0x10000) {
                t[0] = (char) (0xE0 | cp >> 12);
                t[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
                t[2] = (char) (0x80 | (cp & 0x3F));
                return 3;
        }
        t[0] = (char) (0xF0 | cp >> 18);
        t[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
        t[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
        t[3] = (char) (0x80 | (cp & 0x3F));
        return 4;
}

int jsondoc_string_decode(const struct jsondoc *d, size_t at, int (*fn)(void *ud, const char *p, size_t n),
                          void *ud) {
        const char *t = d->text;
        char buf[1024];
        size_t n = 0, i = at + 1;
        int r;

        for (;;) {
                if (n > sizeof buf - 4) {
                        if ((r = fn(ud, buf, n)) < 0)
                                return r;
                        n = 0;
                }
                if (t[i] == '"')
                        break;
                if ((unsigned char) t[i] < 0x80 && t[i] != '\\') {
                        size_t run = i + 1;
                        while ((unsigned char) t[run] < 0x80 && t[run] != '"' && t[run] != '\\')
                                run++;
                        if (n > 0 && (r = fn(ud, buf, n)) < 0)
                                return r;
                        n = 0;
                        if ((r = fn(ud, t + i, run - i)) < 0)
                                return r;
                        i = run;
                        continue;
                }
                n += u8_encode(next_cp(d, &i), buf + n);
        }
        return n > 0 ? fn(ud, buf, n) : 0;
}

struct membuf {
        char *p;
        size_t len, cap;
};

static int membuf_put(void *ud, const char *p, size_t n) {
        struct membuf *m = ud;
        if (m->len + n + 1 > m->cap) {
                size_t ncap = m->cap ? m->cap : 64;
                while (ncap < m->len + n + 1)
                        ncap *= 2;
                char *np = realloc(m->p, ncap);
                if (!np)
                        return -ENOMEM;
                m->p = np;
                m->cap = ncap;
        }
        memcpy(m->p + m->len, p, n);
        m->len += n;
        m->p[m->len] = '\0';
        return 0;
}

char *jsondoc_string_dup(const struct jsondoc *d, size_t at, size_t *len) {
        struct membuf m = { 0 };
        if (jsondoc_string_decode(d, at, membuf_put, &m) < 0 || (!m.p && membuf_put(&m, "", 0) < 0)) {
                free(m.p);
                errno = ENOMEM;
                return NULL;
        }
        if (len)
                *len = m.len;
        return m.p;
}

struct cmp {
        const char *s;
        size_t n, off;
        bool differ;
};

static int cmp_put(void *ud, const char *p, size_t n) {
        struct cmp *c = ud;
        if (n > c->n - c->off || memcmp(c->s + c->off, p, n) != 0) {
                c->differ = true;
                return -1; /* stop decoding */
        }
        c->off += n;
        return 0;
}

bool jsondoc_string_equals(const struct jsondoc *d, size_t at, const char *s, size_t n) {
        struct cmp c = { .s = s, .n = n };
        jsondoc_string_decode(d, at, cmp_put, &c);
        return !c.differ && c.off == n;
}

/* ---- output ---- */

void jsondoc_out_put(struct jsondoc_out *o, const void *p, size_t n) {
        const char *s = p;

        o->total += n;
        if (!o->flush || o->error)
                return;
        while (n > 0) {
                if (o->n == sizeof o->buf && jsondoc_out_flush(o) < 0)
                        return;
                size_t k = sizeof o->buf - o->n;
                if (k > n)
                        k = n;
                memcpy(o->buf + o->n, s, k);
                o->n += k;
                s += k;
                n -= k;
        }
}

void jsondoc_out_puts(struct jsondoc_out *o, const char *s) {
        jsondoc_out_put(o, s, strlen(s));
}

int jsondoc_out_flush(struct jsondoc_out *o) {
        if (o->error || !o->flush)
                return o->error;
        if (o->n > 0) {
                int r = o->flush(o->ud, o->buf, o->n);
                o->n = 0;
                if (r < 0)
                        return o->error = r;
        }
        return 0;
}

static int mem_flush(void *ud, const char *p, size_t n) {
        struct jsondoc_out *o = ud;
        struct membuf m = { o->mem, o->mem_len, o->mem_cap };
        int r = membuf_put(&m, p, n);
        o->mem = m.p, o->mem_len = m.len, o->mem_cap = m.cap;
        return r;
}

void jsondoc_out_init_memory(struct jsondoc_out *o) {
        o->flush = mem_flush;
        o->ud = o;
        o->total = 0;
        o->error = 0;
        o->mem = NULL;
        o->mem_len = o->mem_cap = 0;
        o->n = 0;
}

char *jsondoc_out_take(struct jsondoc_out *o, size_t *len) {
        if (jsondoc_out_flush(o) < 0 || (!o->mem && mem_flush(o, "", 0) < 0)) {
                free(o->mem);
                o->mem = NULL;
                errno = ENOMEM;
                return NULL;
        }
        if (len)
                *len = o->mem_len;
        char *p = o->mem;
        o->mem = NULL;
        o->mem_len = o->mem_cap = 0;
        return p;
}

/* ---- dumps ---- */

/* One code point as json.dumps(ensure_ascii=True) writes it. */
static void put_cp(struct jsondoc_out *o, uint32_t cp) {
        char e[PYJSON_ESCAPE_BUFSZ];

        jsondoc_out_put(o, e, pyjson_escape_cp(cp, e));
}

/* The string token at at, dumped; returns the offset past it. */
static size_t dump_string(const struct jsondoc *d, size_t at, struct jsondoc_out *o) {
        const char *t = d->text;
        size_t i = at + 1;

        jsondoc_out_put(o, "\"", 1);
        for (;;) {
                if (t[i] == '"')
                        break;
                if (plain(t[i])) {
                        size_t run = i + 1;
                        while (plain(t[run]))
                                run++;
                        jsondoc_out_put(o, t + i, run - i);
                        i = run;
                        continue;
                }
                put_cp(o, next_cp(d, &i));
        }
        jsondoc_out_put(o, "\"", 1);
        return i + 1;
}

void jsondoc_dump_str(struct jsondoc_out *o, const char *s, size_t n) {
        size_t i = 0;

        jsondoc_out_put(o, "\"", 1);
        while (i < n) {
                if (plain(s[i])) {
                        size_t run = i + 1;
                        while (run < n && plain(s[run]))
                                run++;
                        jsondoc_out_put(o, s + i, run - i);
                        i = run;
                        continue;
                }
                uint32_t cp;
                size_t k = pyjson_utf8_next(s + i, n - i, &cp);
                if (k == 0) {
                        cp = 0xFFFD;
                        k = 1;
                }
                put_cp(o, cp);
                i += k;
        }
        jsondoc_out_put(o, "\"", 1);
}

/* A float token as pyjson_loads() reads it and pyjson_dumps() writes it:
 * float() (correctly rounded), repr(); an overflow is Infinity. */
static size_t dump_real(const struct jsondoc *d, size_t at, struct jsondoc_out *o) {
        bool is_float;
        size_t n = pyjson_number_len(d->text + at, d->len - at, &is_float);
        char small[64], num[PYJSON_DOUBLE_BUFSZ];
        _cleanup_free_ char *big = n < sizeof small ? NULL : malloc(n + 1);
        char *tmp = n < sizeof small ? small : big;

        if (!tmp) {
                o->error = o->error ? o->error : -ENOMEM;
                return at + n;
        }
        memcpy(tmp, d->text + at, n);
        tmp[n] = '\0';
        double v = strtod(tmp, NULL);
        if (isinf(v))
                jsondoc_out_puts(o, v < 0 ? "-Infinity" : "Infinity");
        else {
                pyjson_format_double(v, num);
                jsondoc_out_puts(o, num);
        }
        return at + n;
}

static size_t dump(const struct jsondoc *d, size_t at, struct jsondoc_out *o, unsigned depth) {
        const char *t = d->text;
        bool is_float;
        size_t n;

        switch (jsondoc_type(d, at)) {
        case JSONDOC_STRING:
                return dump_string(d, at, o);
        case JSONDOC_INTEGER:
                n = pyjson_number_len(t + at, d->len - at, &is_float);
                /* int("-0") is 0; every other integer token is already
                 * str(int(token)): no '+', no leading zero. */
                if (n == 2 && t[at] == '-' && t[at + 1] == '0')
                        jsondoc_out_put(o, "0", 1);
                else
                        jsondoc_out_put(o, t + at, n);
                return at + n;
        case JSONDOC_REAL:
                return dump_real(d, at, o);
        case JSONDOC_CONSTANT:
        case JSONDOC_TRUE:
        case JSONDOC_FALSE:
        case JSONDOC_NULL:
                n = jsondoc_skip(d, at) - at;
                jsondoc_out_put(o, t + at, n);
                return at + n;
        case JSONDOC_ARRAY:
        case JSONDOC_OBJECT:
                break;
        }
        struct jsondoc_iter it;
        size_t key_at, value_at;
        bool obj = t[at] == '{', first = true;

        if (depth >= WALK_MAX_DEPTH) {
                o->error = o->error ? o->error : -ELOOP;
                return jsondoc_skip(d, at);
        }
        jsondoc_out_put(o, obj ? "{" : "[", 1);
        jsondoc_iter_init(d, at, &it);
        while (jsondoc_iter_next(d, &it, &key_at, &value_at)) {
                if (!first)
                        jsondoc_out_put(o, ", ", 2);
                first = false;
                if (obj) {
                        dump_string(d, key_at, o);
                        jsondoc_out_put(o, ": ", 2);
                }
                it.value_end = dump(d, value_at, o, depth + 1);
        }
        jsondoc_out_put(o, obj ? "}" : "]", 1);
        return iter_end(d, &it);
}

size_t jsondoc_dump(const struct jsondoc *d, size_t at, struct jsondoc_out *o) {
        return dump(d, at, o, 0);
}

/* ---- a pruned tree ---- */

static json_t *load(const struct jsondoc *d, size_t at, size_t *budget, bool *pruned, unsigned depth) {
        const char *t = d->text;
        json_t *v;

        (*budget)--;
        switch (jsondoc_type(d, at)) {
        case JSONDOC_STRING: {
                size_t n;
                _cleanup_free_ char *s = jsondoc_string_dup(d, at, &n);
                return s ? json_stringn_nocheck(s, n) : NULL;
        }
        case JSONDOC_INTEGER:
        case JSONDOC_REAL:
        case JSONDOC_CONSTANT: {
                /* the scalar's own token through the tree reader: the same
                 * value (and raw form) as the whole document would give */
                struct pyjson_error e;
                return pyjson_loads(t + at, jsondoc_skip(d, at) - at, 1, &e);
        }
        case JSONDOC_TRUE: return json_true();
        case JSONDOC_FALSE: return json_false();
        case JSONDOC_NULL: return json_null();
        case JSONDOC_ARRAY:
        case JSONDOC_OBJECT:
                break;
        }
        bool obj = t[at] == '{';
        struct jsondoc_iter it;
        size_t key_at, value_at;

        if (depth >= WALK_MAX_DEPTH)
                return NULL;
        v = obj ? json_object() : json_array();
        if (!v)
                return NULL;
        jsondoc_iter_init(d, at, &it);
        while (jsondoc_iter_next(d, &it, &key_at, &value_at)) {
                if (*budget == 0) {
                        *pruned = true;
                        break;
                }
                json_t *item = load(d, value_at, budget, pruned, depth + 1);
                if (!item)
                        goto oom;
                if (obj) {
                        size_t klen;
                        _cleanup_free_ char *k = jsondoc_string_dup(d, key_at, &klen);
                        if (!k) {
                                json_decref(item);
                                goto oom;
                        }
                        /* _new: the item is the object's (or freed) either way */
                        if (json_object_setn_new_nocheck(v, k, klen, item) < 0)
                                goto oom;
                } else if (json_array_append_new(v, item) < 0)
                        goto oom;
        }
        return v;
oom:
        json_decref(v);
        return NULL;
}

json_t *jsondoc_load(const struct jsondoc *d, size_t at, size_t max_values, bool *pruned) {
        size_t budget = max_values ? max_values : 1;
        bool p = false;
        json_t *v = load(d, at, &budget, &p, 0);
        if (pruned)
                *pruned = p;
        return v;
}
