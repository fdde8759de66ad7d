/* SPDX-License-Identifier: Apache-2.0 */
/* The request and outcome messages between an instance's two sides (see
 * execmsg.h). Little-endian fixed-width fields after an 8-byte header
 * (magic, body length); every length is checked against what is left. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "execmsg.h"
#include "errbuf.h"
#include "fdio.h"
#include "macro.h"
#include "wrapper.h"

#define MAGIC_REQUEST 0x31514a43u /* "CJQ1" */
#define MAGIC_OUTCOME 0x31524a43u /* "CJR1" */

enum { HIT_NONE, HIT_CPU, HIT_REALTIME, HIT_OUTPUT, HIT_PACING };
static const char *const hit_names[] = { [HIT_CPU] = "CPU", [HIT_REALTIME] = "REALTIME", [HIT_OUTPUT] = "OUTPUT",
                                         [HIT_PACING] = "PACING" };

/* ---- building ---- */

struct wbuf {
        char *p;
        size_t len, cap;
        bool oom;
};

static void put(struct wbuf *b, const void *d, size_t n) {
        if (b->oom || n == 0) /* an absent stream is NULL: no memcpy from it */
                return;
        if (b->len + n > b->cap) {
                size_t cap = b->cap ? b->cap : 4096;
                while (cap < b->len + n)
                        cap *= 2;
                char *q = realloc(b->p, cap);
                if (!q) {
                        b->oom = true;
                        return;
                }
                b->p = q, b->cap = cap;
        }
        memcpy(b->p + b->len, d, n);
        b->len += n;
}

static void put_u(struct wbuf *b, uint64_t v, size_t bytes) {
        unsigned char le[8];
        for (size_t i = 0; i < bytes; i++)
                le[i] = (unsigned char)(v >> (8 * i));
        put(b, le, bytes);
}

/* Header (magic, body length) then the body built after it. */
static int send_framed(int fd, uint32_t magic, struct wbuf *b) {
        if (b->oom || b->len - 8 > UINT32_MAX) {
                free(b->p);
                return -ENOMEM;
        }
        struct wbuf h = { 0 };
        put_u(&h, magic, 4);
        put_u(&h, b->len - 8, 4);
        if (h.oom) {
                free(b->p);
                return -ENOMEM;
        }
        memcpy(b->p, h.p, 8);
        free(h.p);
        int r = fd_write_all(fd, b->p, b->len);
        free(b->p);
        return r;
}

int execmsg_send_request(int fd, const struct jail_request *req) {
        struct wbuf b = { 0 };
        put_u(&b, 0, 8); /* header, filled by send_framed */
        put_u(&b, req->n_python_path, 4);
        for (int i = 0; i < _LIMIT_MAX; i++)
                put_u(&b, (uint64_t)req->limits.v[i], 8);
        put_u(&b, req->stdin_len, 4);
        put(&b, req->stdin_data, req->stdin_len);
        put_u(&b, req->n_files, 4);
        for (size_t i = 0; i < req->n_files; i++) {
                size_t nl = strlen(req->files[i].name);
                put_u(&b, nl, 2);
                put(&b, req->files[i].name, nl);
                put_u(&b, req->files[i].len, 4);
                put(&b, req->files[i].data, req->files[i].len);
        }
        return send_framed(fd, MAGIC_REQUEST, &b);
}

int execmsg_send_outcome(int fd, const struct execmsg_outcome *o) {
        const struct jail_result *r = &o->res;
        struct wbuf b = { 0 };
        uint8_t hit = HIT_NONE;
        for (uint8_t i = 1; i < ELEMENTSOF(hit_names); i++)
                if (streq_safe(r->limit_hit, hit_names[i]))
                        hit = i;
        char step[sizeof o->step] = { 0 }, label[sizeof r->apparmor_label] = { 0 };
        snprintf(step, sizeof step, "%s", o->step);
        snprintf(label, sizeof label, "%s", r->apparmor_label);
        put_u(&b, 0, 8);
        put_u(&b, (uint32_t)o->setup_error, 4);
        put(&b, step, sizeof step);
        put_u(&b, (uint32_t)r->status, 4);
        put_u(&b, r->uid, 4);
        put_u(&b, r->duration_ms, 8);
        put_u(&b, r->cpu_ms, 8);
        put_u(&b, r->maxrss_kb, 8);
        put_u(&b, r->paused_ms, 8);
        put_u(&b, hit, 1);
        put(&b, label, sizeof label);
        put_u(&b, r->out_len, 4);
        put(&b, r->out, r->out_len);
        put_u(&b, r->err_len, 4);
        put(&b, r->err, r->err_len);
        return send_framed(fd, MAGIC_OUTCOME, &b);
}

/* ---- reading ---- */

#define bad(err, errlen, ...) errbuf(-EBADMSG, err, errlen, __VA_ARGS__)

/* -EPIPE: the other side left mid-message; -ENODATA: before its first byte. */
static int read_all(int fd, char *p, size_t n) {
        bool first = true;
        while (n) {
                ssize_t k = read(fd, p, n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return negative_errno();
                if (k == 0)
                        return first ? -ENODATA : -EPIPE;
                p += k, n -= (size_t)k;
                first = false;
        }
        return 0;
}

static uint64_t le(const unsigned char *p, size_t bytes) {
        uint64_t v = 0;
        for (size_t i = 0; i < bytes; i++)
                v |= (uint64_t)p[i] << (8 * i);
        return v;
}

/* One framed message: *body (malloc'd, NUL after it) of *len bytes. */
static int recv_framed(int fd, uint32_t magic, size_t max_bytes, char **body, size_t *len, char *err, size_t errlen) {
        unsigned char h[8];
        int r = read_all(fd, (char *)h, sizeof h);
        if (r == -ENODATA) {
                snprintf(err, errlen, "no message (the other side left)");
                return r;
        }
        if (r < 0)
                return r == -EPIPE ? bad(err, errlen, "truncated header") : r;
        if (le(h, 4) != magic)
                return bad(err, errlen, "bad magic %#x", (unsigned)le(h, 4));
        size_t n = (size_t)le(h + 4, 4);
        if (n > max_bytes) {
                snprintf(err, errlen, "message of %zu bytes over the bound of %zu", n, max_bytes);
                return -EMSGSIZE;
        }
        char *b = malloc(n + 1);
        if (!b)
                return -ENOMEM;
        if ((r = read_all(fd, b, n)) < 0) {
                free(b);
                return r == -EPIPE || r == -ENODATA ? bad(err, errlen, "truncated message") : r;
        }
        b[n] = '\0';
        *body = b, *len = n;
        return 0;
}

struct rbuf {
        const unsigned char *p;
        size_t left;
};

static bool take(struct rbuf *b, size_t n, const unsigned char **out) {
        if (n > b->left)
                return false;
        *out = b->p;
        b->p += n, b->left -= n;
        return true;
}

static bool take_u(struct rbuf *b, size_t bytes, uint64_t *v) {
        const unsigned char *p;
        if (!take(b, bytes, &p))
                return false;
        *v = le(p, bytes);
        return true;
}

static bool plain_name(const char *s, size_t n) {
        if (n == 0 || n > EXECMSG_MAX_NAME || memchr(s, '/', n) || memchr(s, '\0', n))
                return false;
        return !(n == 1 && s[0] == '.') && !(n == 2 && s[0] == '.' && s[1] == '.');
}

int execmsg_parse_request(char *buf, size_t len, struct execmsg_request *out, char *err, size_t errlen) {
        struct rbuf b = { (const unsigned char *)buf, len };
        struct execmsg_request r = { .buf = buf };
        const unsigned char *p;
        uint64_t v;
        int ret = -EBADMSG;

        if (!take_u(&b, 4, &v) || v > WRAPPER_MAX_PYTHON_PATH) {
                bad(err, errlen, "python_path count missing or over %d", WRAPPER_MAX_PYTHON_PATH);
                goto fail;
        }
        r.n_python_path = (size_t)v;
        for (int i = 0; i < _LIMIT_MAX; i++) {
                if (!take_u(&b, 8, &v) || !limit_valid((enum limit_id)i, (int64_t)v)) {
                        bad(err, errlen, "limit %s missing or out of range", limit_name((enum limit_id)i));
                        goto fail;
                }
                r.limits.v[i] = (int64_t)v;
        }
        if (!take_u(&b, 4, &v) || !take(&b, (size_t)v, &p)) {
                bad(err, errlen, "stdin length past the message");
                goto fail;
        }
        r.stdin_data = (char *)p, r.stdin_len = (size_t)v;
        if (!take_u(&b, 4, &v) || v > EXECMSG_MAX_FILES) {
                bad(err, errlen, "file count missing or over %d", EXECMSG_MAX_FILES);
                goto fail;
        }
        r.n_files = (size_t)v;
        /* Names are copied out NUL-terminated: the message holds them bare. */
        for (size_t i = 0; i < r.n_files; i++) {
                const unsigned char *name, *data;
                uint64_t nl, dl;
                if (!take_u(&b, 2, &nl) || !take(&b, (size_t)nl, &name) || !plain_name((const char *)name, (size_t)nl)) {
                        bad(err, errlen, "file %zu: name missing, past the message, or not a plain name", i);
                        goto fail;
                }
                if (!take_u(&b, 4, &dl) || !take(&b, (size_t)dl, &data)) {
                        bad(err, errlen, "file %zu: data past the message", i);
                        goto fail;
                }
                char *n = strndup((const char *)name, (size_t)nl);
                if (!n) {
                        ret = -ENOMEM;
                        goto fail;
                }
                for (size_t k = 0; k < i; k++)
                        if (strcmp(r.files[k].name, n) == 0) {
                                free(n);
                                bad(err, errlen, "file %zu: duplicate name", i);
                                goto fail;
                        }
                r.files[i] = (struct jail_file){ .name = n, .data = data, .len = (size_t)dl };
        }
        if (b.left) {
                bad(err, errlen, "%zu bytes after the last field", b.left);
                goto fail;
        }
        *out = r;
        return 0;
fail:
        execmsg_request_done(&r);
        return ret;
}

int execmsg_recv_request(int fd, size_t max_bytes, struct execmsg_request *out, char *err, size_t errlen) {
        char *body;
        size_t len;
        int r = recv_framed(fd, MAGIC_REQUEST, max_bytes, &body, &len, err, errlen);
        if (r < 0)
                return r;
        return execmsg_parse_request(body, len, out, err, errlen);
}

void execmsg_request_done(struct execmsg_request *r) {
        if (!r)
                return;
        for (size_t i = 0; i < r->n_files; i++)
                free((char *)r->files[i].name);
        free(r->buf);
        *r = (struct execmsg_request){ 0 };
}

void execmsg_request_view(const struct execmsg_request *r, struct jail_request *view) {
        *view = (struct jail_request){
                .stdin_data = r->stdin_data, .stdin_len = r->stdin_len, .n_python_path = r->n_python_path,
                .files = r->files, .n_files = r->n_files, .limits = r->limits,
        };
}

static char *copy_bytes(const unsigned char *p, size_t n) {
        char *s = malloc(n + 1);
        if (s) {
                memcpy(s, p, n);
                s[n] = '\0';
        }
        return s;
}

int execmsg_recv_outcome(int fd, size_t max_bytes, struct execmsg_outcome *out, char *err, size_t errlen) {
        char *body;
        size_t len;
        int r = recv_framed(fd, MAGIC_OUTCOME, max_bytes, &body, &len, err, errlen);
        if (r < 0)
                return r;
        struct rbuf b = { (const unsigned char *)body, len };
        struct execmsg_outcome o = { 0 };
        const unsigned char *p, *so, *se;
        uint64_t v, st, uid, dur, cpu, rss, paused, hit, ol, el;
        r = -EBADMSG;
        if (!take_u(&b, 4, &v) || !take(&b, sizeof o.step, &p) || !memchr(p, '\0', sizeof o.step)) {
                bad(err, errlen, "set-up result malformed");
                goto out;
        }
        o.setup_error = (int32_t)(uint32_t)v;
        memcpy(o.step, p, sizeof o.step);
        if (!take_u(&b, 4, &st) || !take_u(&b, 4, &uid) || !take_u(&b, 8, &dur) || !take_u(&b, 8, &cpu) ||
            !take_u(&b, 8, &rss) || !take_u(&b, 8, &paused) || !take_u(&b, 1, &hit) || hit >= ELEMENTSOF(hit_names) ||
            !take(&b, sizeof o.res.apparmor_label, &p) || !memchr(p, '\0', sizeof o.res.apparmor_label)) {
                bad(err, errlen, "result fields malformed");
                goto out;
        }
        memcpy(o.res.apparmor_label, p, sizeof o.res.apparmor_label);
        if (!take_u(&b, 4, &ol) || !take(&b, (size_t)ol, &so) || !take_u(&b, 4, &el) || !take(&b, (size_t)el, &se) ||
            b.left) {
                bad(err, errlen, "captured output past the message");
                goto out;
        }
        o.res.status = (int)(int32_t)(uint32_t)st;
        o.res.uid = (uid_t)uid;
        o.res.duration_ms = dur, o.res.cpu_ms = cpu, o.res.maxrss_kb = rss, o.res.paused_ms = paused;
        o.res.limit_hit = hit ? hit_names[hit] : NULL;
        o.res.out = copy_bytes(so, (size_t)ol);
        o.res.err = copy_bytes(se, (size_t)el);
        o.res.out_len = (size_t)ol, o.res.err_len = (size_t)el;
        if (!o.res.out || !o.res.err) {
                execmsg_outcome_done(&o);
                r = -ENOMEM;
                goto out;
        }
        *out = o;
        r = 0;
out:
        free(body);
        return r;
}

void execmsg_outcome_done(struct execmsg_outcome *o) {
        if (!o)
                return;
        free(o->res.out);
        free(o->res.err);
        o->res.out = o->res.err = NULL;
}
