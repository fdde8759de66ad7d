/* SPDX-License-Identifier: Apache-2.0 */
/* Request bodies: application/x-www-form-urlencoded and a streaming
 * multipart/form-data parser (RFC 7578 / RFC 2046). Pure: no I/O, no
 * logging; errors come back as -EINVAL with a detail.
 *
 * Memory: the multipart parser keeps, besides the finished items, only a
 * small carry-over between feeds (at most one part-header line or one
 * delimiter length), and stored item bytes are capped by max_bytes. The
 * number of items is capped like Django's DATA_UPLOAD_MAX_NUMBER_FIELDS so
 * "last duplicate wins" stays cheap. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "form.h"
#include "errbuf.h"
#include "macro.h"

#define PART_HEADER_MAX (16u * 1024u) /* all header lines of one part */

#define set_err(err, errlen, ...) ((void)errbuf(0, err, errlen, __VA_ARGS__))

static void item_free(struct form_item *it) {
        free(it->name);
        if (!it->borrowed)
                free(it->data);
}

void form_done(struct form *f) {
        if (!f)
                return;
        for (size_t i = 0; i < f->n; i++)
                item_free(&f->items[i]);
        free(f->items);
        f->items = NULL;
        f->n = 0;
        f->field_bytes = 0;
}

/* Takes ownership of name and (unless borrowed) data, freed on failure too.
 * The last of duplicate names of the same kind wins, as in Django's
 * QueryDict/FILES. */
static int form_add(struct form *f, char *name, char *data, size_t len, bool is_file, bool borrowed) {
        for (size_t i = 0; i < f->n; i++)
                if (f->items[i].is_file == is_file && strcmp(f->items[i].name, name) == 0) {
                        item_free(&f->items[i]);
                        memmove(&f->items[i], &f->items[i + 1], (f->n - i - 1) * sizeof *f->items);
                        f->n--;
                        break;
                }
        struct form_item *items = realloc(f->items, (f->n + 1) * sizeof *items);
        if (!items) {
                free(name);
                if (!borrowed)
                        free(data);
                return -ENOMEM;
        }
        f->items = items;
        if (!is_file)
                f->field_bytes += len + strlen(name) + 2;
        f->items[f->n++] = (struct form_item) {
                .name = name, .data = data, .len = len, .is_file = is_file, .borrowed = borrowed,
        };
        return 0;
}

const struct form_item *form_get_field(const struct form *f, const char *name) {
        if (!f)
                return NULL;
        for (size_t i = f->n; i > 0; i--)
                if (!f->items[i - 1].is_file && strcmp(f->items[i - 1].name, name) == 0)
                        return &f->items[i - 1];
        return NULL;
}

static bool is_space(char c) { return c == ' ' || c == '\t'; }

/* Content-Type parameters: ;name=token or ;name="quoted \"string\"".
 * Finds parameter `want` (case-insensitive) in params and unquotes it into
 * out. Returns 1 found, 0 absent, -EINVAL malformed or too long. */
static int header_param(const char *params, size_t plen, const char *want, char *out, size_t outsize,
                        bool *found_out) {
        const char *p = params, *end = params + plen;
        size_t wlen = strlen(want);
        int r = 0;

        while (p < end) {
                while (p < end && (is_space(*p) || *p == ';'))
                        p++;
                if (p >= end)
                        break;
                const char *name = p;
                while (p < end && *p != '=' && *p != ';' && !is_space(*p))
                        p++;
                size_t nlen = (size_t) (p - name);
                while (p < end && is_space(*p))
                        p++;
                if (p >= end || *p != '=') {
                        /* a bare token parameter (e.g. "form-data" itself): skip */
                        while (p < end && *p != ';')
                                p++;
                        continue;
                }
                p++;
                while (p < end && is_space(*p))
                        p++;
                bool match = nlen == wlen && strncasecmp(name, want, wlen) == 0;
                size_t o = 0;
                bool overflow = false;
                if (p < end && *p == '"') {
                        p++;
                        bool closed = false;
                        while (p < end) {
                                char c = *p++;
                                if (c == '"') {
                                        closed = true;
                                        break;
                                }
                                if (c == '\\' && p < end)
                                        c = *p++;
                                if (match) {
                                        if (o + 1 >= outsize)
                                                overflow = true;
                                        else
                                                out[o++] = c;
                                }
                        }
                        if (!closed)
                                return -EINVAL;
                        while (p < end && is_space(*p))
                                p++;
                        if (p < end && *p != ';')
                                return -EINVAL;
                } else {
                        const char *v = p;
                        while (p < end && *p != ';')
                                p++;
                        const char *ve = p;
                        while (ve > v && is_space(ve[-1]))
                                ve--;
                        if (match) {
                                size_t vl = (size_t) (ve - v);
                                if (vl + 1 > outsize)
                                        overflow = true;
                                else {
                                        memcpy(out, v, vl);
                                        o = vl;
                                }
                        }
                }
                if (match) {
                        if (overflow)
                                return -EINVAL;
                        out[o] = 0;
                        r = 1; /* keep scanning: the last occurrence wins */
                        if (found_out)
                                *found_out = true;
                }
        }
        return r;
}

enum form_kind form_content_type(const char *content_type, char *boundary, size_t boundary_size) {
        if (boundary && boundary_size > 0)
                boundary[0] = 0;
        if (!content_type)
                return FORM_NONE;
        const char *p = content_type + strspn(content_type, " \t");
        size_t tlen = strcspn(p, ";");
        size_t t = tlen;
        while (t > 0 && is_space(p[t - 1]))
                t--;
        if (t == strlen("application/x-www-form-urlencoded") &&
            strncasecmp(p, "application/x-www-form-urlencoded", t) == 0)
                return FORM_URLENCODED;
        if (!(t == strlen("multipart/form-data") && strncasecmp(p, "multipart/form-data", t) == 0))
                return FORM_NONE;

        /* Invalid or missing boundary: FORM_MULTIPART with an empty boundary,
         * which the parser reports as malformed. */
        char b[71 + 1];
        const char *params = p + tlen;
        if (!boundary || boundary_size == 0)
                return FORM_MULTIPART;
        if (header_param(params, strlen(params), "boundary", b, sizeof b, NULL) != 1)
                return FORM_MULTIPART;
        size_t bl = strlen(b);
        if (bl == 0 || bl > 70 || bl + 1 > boundary_size)
                return FORM_MULTIPART;
        for (size_t i = 0; i < bl; i++)
                if ((unsigned char) b[i] < 0x20 || (unsigned char) b[i] > 0x7e)
                        return FORM_MULTIPART;
        memcpy(boundary, b, bl + 1);
        return FORM_MULTIPART;
}

/* ---- urlencoded ---- */


/* Like Python's unquote_plus: '+' is a space, %XX a byte, a malformed
 * escape stays as written. */
static char *url_decode(const char *s, size_t n, size_t *len_out) {
        char *out = malloc(n + 1);
        if (!out)
                return NULL;
        size_t o = 0;
        for (size_t i = 0; i < n; i++) {
                if (s[i] == '+')
                        out[o++] = ' ';
                else if (s[i] == '%' && i + 2 < n && unhexchar(s[i + 1]) >= 0 && unhexchar(s[i + 2]) >= 0) {
                        out[o++] = (char) (unhexchar(s[i + 1]) * 16 + unhexchar(s[i + 2]));
                        i += 2;
                } else
                        out[o++] = s[i];
        }
        out[o] = 0;
        *len_out = o;
        return out;
}

int form_parse_urlencoded(const char *body, size_t len, struct form *f, char *err, size_t errlen) {
        struct form res = { 0 };
        size_t count = 0;

        if (len == 0) { /* body may be NULL: no arithmetic on it */
                *f = res;
                return 0;
        }
        const char *p = body, *end = body + len;

        while (p < end) {
                const char *amp = memchr(p, '&', (size_t) (end - p));
                const char *pe = amp ? amp : end;
                if (pe > p) {
                        if (++count > FORM_MAX_ITEMS) {
                                set_err(err, errlen, "too many form fields (limit %u)", FORM_MAX_ITEMS);
                                form_done(&res);
                                return -EINVAL;
                        }
                        const char *eq = memchr(p, '=', (size_t) (pe - p));
                        const char *ne = eq ? eq : pe;
                        size_t nl, vl;
                        char *name = url_decode(p, (size_t) (ne - p), &nl);
                        char *value = eq ? url_decode(eq + 1, (size_t) (pe - eq - 1), &vl) : strdup("");
                        if (!eq)
                                vl = 0;
                        if (!name || !value) {
                                free(name);
                                free(value);
                                form_done(&res);
                                return -ENOMEM;
                        }
                        if (strlen(name) != nl) {
                                set_err(err, errlen, "form field name contains a NUL byte");
                                free(name);
                                free(value);
                                form_done(&res);
                                return -EINVAL;
                        }
                        int r = form_add(&res, name, value, vl, false, false);
                        if (r < 0) {
                                form_done(&res);
                                return r;
                        }
                }
                p = amp ? amp + 1 : end;
        }
        res.field_bytes = len; /* Django counts the raw body: its Content-Length */
        *f = res;
        return 0;
}

/* url_decode() over s itself: the decoded bytes are never longer. */
static size_t url_decode_inplace(char *s, size_t n) {
        size_t o = 0;
        for (size_t i = 0; i < n; i++) {
                if (s[i] == '+')
                        s[o++] = ' ';
                else if (s[i] == '%' && i + 2 < n && unhexchar(s[i + 1]) >= 0 && unhexchar(s[i + 2]) >= 0) {
                        s[o++] = (char) (unhexchar(s[i + 1]) * 16 + unhexchar(s[i + 2]));
                        i += 2;
                } else
                        s[o++] = s[i];
        }
        return o;
}

int form_parse_urlencoded_inplace(char *body, size_t len, struct form *f, char *err, size_t errlen) {
        struct form res = { 0 };
        size_t count = 0;

        if (len == 0) {
                *f = res;
                return 0;
        }
        char *p = body, *end = body + len;
        while (p < end) {
                char *amp = memchr(p, '&', (size_t) (end - p));
                char *pe = amp ? amp : end;
                if (pe > p) {
                        if (++count > FORM_MAX_ITEMS) {
                                set_err(err, errlen, "too many form fields (limit %u)", FORM_MAX_ITEMS);
                                form_done(&res);
                                return -EINVAL;
                        }
                        char *eq = memchr(p, '=', (size_t) (pe - p));
                        char *ne = eq ? eq : pe;
                        size_t nl = url_decode_inplace(p, (size_t) (ne - p));
                        if (memchr(p, '\0', nl)) {
                                set_err(err, errlen, "form field name contains a NUL byte");
                                form_done(&res);
                                return -EINVAL;
                        }
                        char *name = strndup(p, nl);
                        if (!name) {
                                form_done(&res);
                                return -ENOMEM;
                        }
                        /* A value ends at most where its field does: its NUL
                         * lands on the '&' (or on body[len]) at the latest. */
                        char *value = eq ? eq + 1 : p;
                        size_t vl = eq ? url_decode_inplace(eq + 1, (size_t) (pe - eq - 1)) : 0;
                        value[vl] = '\0';
                        int r = form_add(&res, name, value, vl, false, true);
                        if (r < 0) {
                                form_done(&res);
                                return r;
                        }
                }
                p = amp ? amp + 1 : end;
        }
        res.field_bytes = len; /* Django counts the raw body: its Content-Length */
        *f = res;
        return 0;
}

/* ---- multipart/form-data ---- */

enum mp_state { MP_PREAMBLE, MP_AFTER_DELIM, MP_HEADERS, MP_DATA, MP_END, MP_FAILED };

#define FEED_STEP (64u * 1024u) /* bytes moved into the carry-over at a time */

struct form_multipart {
        char delim[4 + 70 + 1]; /* "\r\n--" boundary */
        size_t delim_len;
        size_t max_bytes, used, count;
        enum mp_state state;
        bool at_start;

        char *acc; /* carry-over between feeds (bounded, see process()) */
        size_t acc_len, acc_cap;

        /* the part being read */
        size_t header_bytes;
        char *name;
        bool has_disposition, is_file;
        char *data;
        size_t data_len, data_cap;

        /* In-place mode (form_parse_multipart_inplace): a part whose bytes
         * are contiguous in the caller's body is referenced, not copied. */
        char *inplace_base;
        size_t inplace_len;
        char *borrowed; /* the current part's data in the body, or NULL */

        struct form form;
        char error[160];
};

struct form_multipart *form_multipart_new(const char *boundary, size_t max_bytes) {
        size_t bl = boundary ? strlen(boundary) : 0;
        if (bl == 0 || bl > 70)
                return NULL;
        struct form_multipart *m = calloc(1, sizeof *m);
        if (!m)
                return NULL;
        memcpy(m->delim, "\r\n--", 4);
        memcpy(m->delim + 4, boundary, bl + 1);
        m->delim_len = 4 + bl;
        m->max_bytes = max_bytes;
        m->state = MP_PREAMBLE;
        m->at_start = true;
        return m;
}

static void part_reset(struct form_multipart *m) {
        free(m->name);
        free(m->data);
        m->name = m->data = m->borrowed = NULL;
        m->data_len = m->data_cap = 0;
        m->header_bytes = 0;
        m->has_disposition = m->is_file = false;
}

void form_multipart_free(struct form_multipart *m) {
        if (!m)
                return;
        part_reset(m);
        free(m->acc);
        form_done(&m->form);
        free(m);
}

static int mp_fail(struct form_multipart *m, const char *fmt, ...) _printf_(2, 3);
static int mp_fail(struct form_multipart *m, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(m->error, sizeof m->error, fmt, ap);
        va_end(ap);
        m->state = MP_FAILED;
        return -EINVAL;
}

static int charge(struct form_multipart *m, size_t n) {
        if (n > m->max_bytes || m->used > m->max_bytes - n)
                return mp_fail(m, "multipart content exceeds %zu bytes", m->max_bytes);
        m->used += n;
        return 0;
}

static int data_append(struct form_multipart *m, const char *p, size_t n) {
        int r = charge(m, n);
        if (r < 0)
                return r;
        if (m->inplace_base && !m->data && p >= m->inplace_base && n <= m->inplace_len &&
            (size_t)(p - m->inplace_base) <= m->inplace_len - n) {
                if (!m->borrowed && m->data_len == 0) {
                        m->borrowed = m->inplace_base + (p - m->inplace_base);
                        m->data_len = n;
                        return 0;
                }
                if (m->borrowed && m->borrowed + m->data_len == p) {
                        m->data_len += n;
                        return 0;
                }
        }
        if (m->borrowed) {
                /* Not contiguous after all: fall back to a copy. */
                size_t have = m->data_len;
                char *d = malloc(have + n + 1);
                if (!d)
                        return -ENOMEM;
                memcpy(d, m->borrowed, have);
                m->data = d;
                m->data_cap = have + n + 1;
                m->borrowed = NULL;
        }
        if (m->data_len + n + 1 > m->data_cap) {
                size_t cap = m->data_cap ? m->data_cap : 256;
                while (cap < m->data_len + n + 1)
                        cap = cap > SIZE_MAX / 2 ? m->data_len + n + 1 : cap * 2;
                char *d = realloc(m->data, cap);
                if (!d)
                        return -ENOMEM;
                m->data = d;
                m->data_cap = cap;
        }
        memcpy(m->data + m->data_len, p, n);
        m->data_len += n;
        m->data[m->data_len] = 0;
        return 0;
}

static int part_header(struct form_multipart *m, const char *line, size_t n) {
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) line[i];
                if ((c < 0x20 && c != '\t') || c == 0x7f)
                        return mp_fail(m, "control character in a multipart part header");
        }
        if (is_space(line[0]))
                return mp_fail(m, "folded multipart part header");
        const char *colon = memchr(line, ':', n);
        if (!colon || colon == line)
                return mp_fail(m, "malformed multipart part header");
        size_t nl = (size_t) (colon - line);
        while (nl > 0 && is_space(line[nl - 1]))
                nl--;
        if (!(nl == strlen("Content-Disposition") && strncasecmp(line, "Content-Disposition", nl) == 0))
                return 0; /* Content-Type and others: not needed */

        const char *v = colon + 1, *end = line + n;
        while (v < end && is_space(*v))
                v++;
        const char *te = v;
        while (te < end && *te != ';')
                te++;
        const char *tt = te;
        while (tt > v && is_space(tt[-1]))
                tt--;
        if (!((size_t) (tt - v) == strlen("form-data") && strncasecmp(v, "form-data", 9) == 0))
                return mp_fail(m, "multipart part is not form-data");

        size_t plen = (size_t) (end - te);
        _cleanup_free_ char *name = malloc(plen + 1);
        _cleanup_free_ char *scratch = malloc(plen + 1);
        if (!name || !scratch)
                return -ENOMEM;
        int r = header_param(te, plen, "name", name, plen + 1, NULL);
        if (r < 0)
                return mp_fail(m, "malformed Content-Disposition parameters");
        if (r == 0)
                return mp_fail(m, "multipart part without a name");
        bool is_file = false;
        if (header_param(te, plen, "filename", scratch, plen + 1, &is_file) < 0 ||
            header_param(te, plen, "filename*", scratch, plen + 1, &is_file) < 0)
                return mp_fail(m, "malformed Content-Disposition parameters");

        free(m->name);
        m->name = TAKE_PTR(name);
        m->has_disposition = true;
        m->is_file = is_file;
        return 0;
}

static int part_finish(struct form_multipart *m) {
        if (!m->has_disposition)
                return mp_fail(m, "multipart part without Content-Disposition");
        if (++m->count > FORM_MAX_ITEMS)
                return mp_fail(m, "too many form fields (limit %u)", FORM_MAX_ITEMS);
        int r = charge(m, strlen(m->name));
        if (r < 0)
                return r;
        if (m->borrowed) {
                r = form_add(&m->form, TAKE_PTR(m->name), TAKE_PTR(m->borrowed), m->data_len, m->is_file, true);
                part_reset(m);
                return r;
        }
        if (!m->data) {
                m->data = strdup("");
                if (!m->data)
                        return -ENOMEM;
        }
        r = form_add(&m->form, TAKE_PTR(m->name), TAKE_PTR(m->data), m->data_len, m->is_file, false);
        part_reset(m);
        return r;
}

/* Consume what can be decided from data. Returns the bytes consumed; what
 * is left is at most a delimiter's length or one part-header line (capped),
 * which the caller carries over. */
static ssize_t process(struct form_multipart *m, const char *data, size_t len) {
        size_t pos = 0;
        int r;

        for (;;) {
                const char *d = data + pos;
                size_t n = len - pos;
                const char *hit;

                switch (m->state) {
                case MP_PREAMBLE:
                        if (m->at_start) {
                                /* the body may open with "--boundary" (no CRLF) */
                                size_t dl = m->delim_len - 2;
                                if (n < dl && memcmp(d, m->delim + 2, n) == 0)
                                        return (ssize_t) pos;
                                m->at_start = false;
                                /* n < dl here means d is no prefix: never compare past n */
                                if (n >= dl && memcmp(d, m->delim + 2, dl) == 0) {
                                        pos += dl;
                                        m->state = MP_AFTER_DELIM;
                                        continue;
                                }
                        }
                        hit = memmem(d, n, m->delim, m->delim_len);
                        if (hit) {
                                pos += (size_t) (hit - d) + m->delim_len;
                                m->state = MP_AFTER_DELIM;
                                continue;
                        }
                        if (n > m->delim_len - 1)
                                pos += n - (m->delim_len - 1);
                        return (ssize_t) pos;

                case MP_AFTER_DELIM:
                        if (n == 0)
                                return (ssize_t) pos;
                        if (is_space(d[0])) { /* transport padding */
                                pos++;
                                continue;
                        }
                        if (d[0] != '-' && d[0] != '\r')
                                return mp_fail(m, "malformed multipart boundary line");
                        if (n < 2)
                                return (ssize_t) pos;
                        if (d[0] == '-' && d[1] == '-') {
                                pos += 2;
                                m->state = MP_END;
                                continue;
                        }
                        if (d[0] == '\r' && d[1] == '\n') {
                                pos += 2;
                                part_reset(m);
                                m->state = MP_HEADERS;
                                continue;
                        }
                        return mp_fail(m, "malformed multipart boundary line");

                case MP_HEADERS:
                        hit = memmem(d, n, "\r\n", 2);
                        if (!hit) {
                                if (n > PART_HEADER_MAX - m->header_bytes)
                                        return mp_fail(m, "multipart part headers too long");
                                return (ssize_t) pos;
                        }
                        size_t ll = (size_t) (hit - d);
                        if (ll + 2 > PART_HEADER_MAX - m->header_bytes)
                                return mp_fail(m, "multipart part headers too long");
                        m->header_bytes += ll + 2;
                        pos += ll + 2;
                        if (ll == 0) {
                                if (!m->has_disposition)
                                        return mp_fail(m, "multipart part without Content-Disposition");
                                m->state = MP_DATA;
                                continue;
                        }
                        r = part_header(m, d, ll);
                        if (r < 0)
                                return r;
                        continue;

                case MP_DATA:
                        hit = memmem(d, n, m->delim, m->delim_len);
                        if (hit) {
                                r = data_append(m, d, (size_t) (hit - d));
                                if (r < 0)
                                        return r;
                                r = part_finish(m);
                                if (r < 0)
                                        return r;
                                pos += (size_t) (hit - d) + m->delim_len;
                                m->state = MP_AFTER_DELIM;
                                continue;
                        }
                        if (n > m->delim_len - 1) {
                                r = data_append(m, d, n - (m->delim_len - 1));
                                if (r < 0)
                                        return r;
                                pos += n - (m->delim_len - 1);
                        }
                        return (ssize_t) pos;

                case MP_END: /* epilogue: ignored */
                        return (ssize_t) len;

                case MP_FAILED:
                        return -EINVAL;
                }
        }
}

static int acc_append(struct form_multipart *m, const char *p, size_t n) {
        if (n == 0) /* acc may still be NULL: NULL + 0 and memcpy(NULL) are UB */
                return 0;
        if (m->acc_len + n > m->acc_cap) {
                size_t cap = m->acc_cap ? m->acc_cap : 1024;
                while (cap < m->acc_len + n)
                        cap *= 2;
                char *a = realloc(m->acc, cap);
                if (!a)
                        return -ENOMEM;
                m->acc = a;
                m->acc_cap = cap;
        }
        memcpy(m->acc + m->acc_len, p, n);
        m->acc_len += n;
        return 0;
}

static int mp_error(struct form_multipart *m, int r, char *err, size_t errlen) {
        if (r == -ENOMEM) {
                if (m->state != MP_FAILED)
                        mp_fail(m, "out of memory");
                set_err(err, errlen, "out of memory");
                return -ENOMEM;
        }
        set_err(err, errlen, "%s", m->error);
        return -EINVAL;
}

int form_multipart_feed(struct form_multipart *m, const char *buf, size_t len, char *err, size_t errlen) {
        if (m->state == MP_FAILED)
                return mp_error(m, -EINVAL, err, errlen);
        while (len > 0) {
                ssize_t c;
                if (m->acc_len == 0) {
                        c = process(m, buf, len);
                        if (c < 0)
                                return mp_error(m, (int) c, err, errlen);
                        int r = acc_append(m, buf + c, len - (size_t) c);
                        if (r < 0)
                                return mp_error(m, r, err, errlen);
                        return 0;
                }
                size_t take = len < FEED_STEP ? len : FEED_STEP;
                int r = acc_append(m, buf, take);
                if (r < 0)
                        return mp_error(m, r, err, errlen);
                buf += take;
                len -= take;
                c = process(m, m->acc, m->acc_len);
                if (c < 0)
                        return mp_error(m, (int) c, err, errlen);
                memmove(m->acc, m->acc + c, m->acc_len - (size_t) c);
                m->acc_len -= (size_t) c;
        }
        return 0;
}

int form_multipart_finish(struct form_multipart *m, struct form *f, char *err, size_t errlen) {
        if (m->state == MP_FAILED)
                return mp_error(m, -EINVAL, err, errlen);
        if (m->state != MP_END) {
                mp_fail(m, "multipart body ended before the closing boundary");
                return mp_error(m, -EINVAL, err, errlen);
        }
        *f = m->form;
        m->form = (struct form) { 0 };
        return 0;
}

/* One whole body in one feed; inplace (or NULL): the same bytes, writable,
 * for values to be borrowed from. */
static int parse_whole(const char *body, size_t len, char *inplace, const char *boundary, struct form *f,
                       char *err, size_t errlen) {
        if (!boundary || !*boundary || strlen(boundary) > 70) {
                set_err(err, errlen, "multipart boundary missing or invalid");
                return -EINVAL;
        }
        struct form_multipart *m = form_multipart_new(boundary, len);
        if (!m) {
                set_err(err, errlen, "out of memory");
                return -ENOMEM;
        }
        m->inplace_base = inplace;
        m->inplace_len = inplace ? len : 0;
        int r = form_multipart_feed(m, body, len, err, errlen);
        if (r >= 0)
                r = form_multipart_finish(m, f, err, errlen);
        form_multipart_free(m);
        return r;
}

int form_parse_multipart_inplace(char *body, size_t len, const char *boundary, struct form *f, char *err,
                                 size_t errlen) {
        int r = parse_whole(body, len, body, boundary, f, err, errlen);
        if (r < 0)
                return r;
        /* Parsing is over: terminate each borrowed value in place. The byte
         * after it is the CR of the delimiter that closed its part. */
        for (size_t i = 0; i < f->n; i++)
                if (f->items[i].borrowed)
                        f->items[i].data[f->items[i].len] = '\0';
        return 0;
}

int form_parse_multipart(const char *body, size_t len, const char *boundary, struct form *f,
                         char *err, size_t errlen) {
        return parse_whole(body, len, NULL, boundary, f, err, errlen);
}
