/* SPDX-License-Identifier: Apache-2.0 */
/* llhttp glue: one request per connection, every buffer capped by the
 * config, one deadline from accept to the last body byte.
 *
 * Reading works on a single buffer. Raw bytes are received just past the
 * body decoded so far and handed to llhttp in place; on_body moves each
 * decoded piece down onto the end of the body (memmove: llhttp's pointer is
 * never below it). For a Content-Length body that move is a no-op, so the
 * body is received straight into its final place. The head is never kept:
 * llhttp streams it and we copy the few pieces we need (URL, Content-Type,
 * Expect), all bounded because the head itself is.
 *
 * llhttp 8.1 built without LLHTTP_STRICT_MODE (Debian's node-llhttp) accepts
 * a bare LF as a line end and lone CRs, and its lenient flags are all off by
 * default (llhttp_init zeroes them; we never set them). Since a front proxy
 * may split lines differently from us (request smuggling, CVE-2023-30589
 * against Node's llhttp use), the head is pre-scanned here and any bare LF,
 * bare CR, obs-fold continuation line or control byte is a 400 before llhttp
 * sees it. Content-Length with Transfer-Encoding and duplicate Content-Length
 * are refused by llhttp itself (HPE_UNEXPECTED_CONTENT_LENGTH) and checked
 * again from its flags. */
#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <linux/tcp.h>
#include <llhttp.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include "http.h"
#include "macro.h"

#define HEAD_READ_SIZE (16u * 1024u)
/* Room kept past the body so a read can always see chunk framing and any
 * excess that makes the body too large. */
#define BODY_HEADROOM (64u * 1024u)
#define LINGER_MAX_BYTES (4u * 1024u * 1024u)

uint64_t http_now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * UINT64_C(1000000000) + (uint64_t) ts.tv_nsec;
}

/* Milliseconds until deadline for poll(), rounded up; 0 when passed. */
static int remaining_ms(uint64_t deadline_ns) {
        uint64_t now = http_now_ns();
        if (now >= deadline_ns)
                return 0;
        uint64_t ms = (deadline_ns - now + 999999) / 1000000;
        return ms > INT_MAX ? INT_MAX : (int) ms;
}

/* A string that grows up to a cap. */
struct sbuf {
        char *p;
        size_t len, cap;
};

static int sbuf_append(struct sbuf *s, const char *at, size_t n, size_t max) {
        if (n > max || s->len > max - n)
                return -EMSGSIZE;
        if (s->len + n + 1 > s->cap) {
                size_t cap = s->cap ? s->cap : 64;
                while (cap < s->len + n + 1)
                        cap *= 2;
                char *p = realloc(s->p, cap);
                if (!p)
                        return -ENOMEM;
                s->p = p;
                s->cap = cap;
        }
        memcpy(s->p + s->len, at, n);
        s->len += n;
        s->p[s->len] = 0;
        return 0;
}

static void sbuf_reset(struct sbuf *s) {
        s->len = 0;
        if (s->p)
                s->p[0] = 0;
}

enum head_scan {
        SCAN_LINE_START, /* at the first byte of a line */
        SCAN_IN_LINE,
        SCAN_CR,         /* CR ending a non-empty line: LF must follow */
        SCAN_CR_EMPTY,   /* CR of the empty line: LF must follow, then the head ends */
};

struct reader {
        llhttp_t parser;
        llhttp_settings_t settings;
        const struct http_limits *lim;
        struct http_error *err;

        /* head pre-scan */
        enum head_scan scan;
        size_t head_bytes;
        bool first_line_done;
        bool colon_seen; /* in the current header line */
        bool head_done;

        struct sbuf url, field, value, content_type, authorization;
        unsigned n_authorization;
        bool expect_continue;
        bool headers_complete, message_complete;
        int cb_error; /* negative errno set by a callback returning HPE_USER */

        char *buf;
        size_t buf_size;
        size_t body_len;
        bool buf_fixed; /* sized for Content-Length once: never moved again */
};

static void set_error(struct http_error *err, int status, const char *log_status, const char *fmt, ...)
        _printf_(4, 5);
static void set_error(struct http_error *err, int status, const char *log_status, const char *fmt, ...) {
        va_list ap;
        err->status = status;
        err->log_status = log_status;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
}

static struct reader *reader_of(llhttp_t *p) { return p->data; }

static int cb_fail(struct reader *r, int error) {
        r->cb_error = error;
        return HPE_USER;
}

static int on_url(llhttp_t *p, const char *at, size_t n) {
        struct reader *r = reader_of(p);
        int k = sbuf_append(&r->url, at, n, r->lim->max_header_bytes);
        return k < 0 ? cb_fail(r, k) : 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t n) {
        struct reader *r = reader_of(p);
        if (r->headers_complete) /* trailers: not kept */
                return 0;
        int k = sbuf_append(&r->field, at, n, r->lim->max_header_bytes);
        return k < 0 ? cb_fail(r, k) : 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t n) {
        struct reader *r = reader_of(p);
        if (r->headers_complete)
                return 0;
        int k = sbuf_append(&r->value, at, n, r->lim->max_header_bytes);
        return k < 0 ? cb_fail(r, k) : 0;
}

static bool field_is(const struct sbuf *f, const char *name) {
        return f->len == strlen(name) && strncasecmp(f->p, name, f->len) == 0;
}

static int on_header_value_complete(llhttp_t *p) {
        struct reader *r = reader_of(p);
        if (r->headers_complete)
                return 0;
        const char *v = r->value.p ? r->value.p : "";
        /* llhttp strips leading whitespace only (OWS on both sides is not
         * part of the value, RFC 9110 5.5). */
        size_t vlen = r->value.len;
        while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
                vlen--;
        if (r->value.p)
                r->value.p[vlen] = 0;
        if (field_is(&r->field, "Content-Type")) {
                sbuf_reset(&r->content_type);
                int k = sbuf_append(&r->content_type, v, vlen, r->lim->max_header_bytes);
                if (k < 0)
                        return cb_fail(r, k);
        } else if (field_is(&r->field, "Authorization")) {
                r->n_authorization++;
                sbuf_reset(&r->authorization);
                int k = sbuf_append(&r->authorization, v, vlen, r->lim->max_header_bytes);
                if (k < 0)
                        return cb_fail(r, k);
        } else if (field_is(&r->field, "Expect")) {
                if (strcasecmp(v, "100-continue") == 0)
                        r->expect_continue = true;
        }
        sbuf_reset(&r->field);
        sbuf_reset(&r->value);
        return 0;
}

static int on_headers_complete(llhttp_t *p) {
        reader_of(p)->headers_complete = true;
        return 0;
}

static int on_chunk_header(llhttp_t *p) {
        struct reader *r = reader_of(p);
        /* parser->content_length is this chunk's size: refuse before its
         * first byte arrives. */
        if (p->content_length > r->lim->max_body_bytes ||
            r->body_len > r->lim->max_body_bytes - p->content_length)
                return cb_fail(r, -EFBIG);
        return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n) {
        struct reader *r = reader_of(p);
        if (n > r->lim->max_body_bytes || r->body_len > r->lim->max_body_bytes - n)
                return cb_fail(r, -EFBIG);
        char *dst = r->buf + r->body_len;
        if (at != dst)
                memmove(dst, at, n);
        r->body_len += n;
        return 0;
}

static int on_message_complete(llhttp_t *p) {
        reader_of(p)->message_complete = true;
        /* One request per connection: whatever follows is not parsed. */
        return HPE_PAUSED;
}

static ssize_t bad_head(struct reader *r, const char *what) {
        set_error(r->err, 400, "http.bad_request", "Bad request: %s", what);
        return -EBADMSG;
}

/* Pre-scan head bytes (see the top of the file). Returns how many bytes of
 * data belong to the head (all of them while it continues; r->head_done is
 * set when it ended), or a negative errno with err set. */
static ssize_t scan_head(struct reader *r, const char *data, size_t n) {
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) data[i];

                if (++r->head_bytes > r->lim->max_header_bytes) {
                        set_error(r->err, 431, "http.header_too_large",
                                  "Request header fields too large (limit %zu bytes)", r->lim->max_header_bytes);
                        return -EMSGSIZE;
                }
                switch (r->scan) {
                case SCAN_CR:
                case SCAN_CR_EMPTY:
                        if (c != '\n')
                                return bad_head(r, "bare CR in request head");
                        if (r->scan == SCAN_CR_EMPTY) {
                                r->head_done = true;
                                return (ssize_t) (i + 1);
                        }
                        r->first_line_done = true;
                        r->colon_seen = false;
                        r->scan = SCAN_LINE_START;
                        continue;
                case SCAN_LINE_START:
                        if (c == '\r') {
                                if (!r->first_line_done)
                                        return bad_head(r, "empty line before the request line");
                                r->scan = SCAN_CR_EMPTY;
                                continue;
                        }
                        if (c == ' ' || c == '\t')
                                return bad_head(r, r->first_line_done ? "obsolete line folding in header"
                                                                      : "whitespace before the request line");
                        break;
                case SCAN_IN_LINE:
                        if (c == '\r') {
                                r->scan = SCAN_CR;
                                continue;
                        }
                        break;
                }
                if (c == '\n')
                        return bad_head(r, "bare LF in request head");
                if ((c < 0x20 && c != '\t') || c == 0x7f)
                        return bad_head(r, "control character in request head");
                /* RFC 9112 5.1: whitespace between field name and colon
                 * must be rejected (another smuggling vector). */
                if (r->first_line_done && !r->colon_seen) {
                        if (c == ':')
                                r->colon_seen = true;
                        else if (c == ' ' || c == '\t')
                                return bad_head(r, "whitespace in a header field name");
                }
                r->scan = SCAN_IN_LINE;
        }
        return (ssize_t) n;
}

static int map_llhttp_error(struct reader *r, llhttp_errno_t e) {
        /* llhttp reports a failing llhttp_cb as HPE_CB_<name>, a failing
         * data callback as HPE_USER: either way our reason is in cb_error. */
        if (r->cb_error) {
                switch (r->cb_error) {
                case -EFBIG:
                        set_error(r->err, 413, "http.too_large", "Request body too large (limit %llu bytes)",
                                  (unsigned long long) r->lim->max_body_bytes);
                        return -EFBIG;
                case -EMSGSIZE:
                        set_error(r->err, 431, "http.header_too_large",
                                  "Request header fields too large (limit %zu bytes)", r->lim->max_header_bytes);
                        return -EMSGSIZE;
                default:
                        set_error(r->err, 500, "http.internal_error", "Internal error reading the request");
                        return r->cb_error;
                }
        }
        /* llhttp's reasons are static ASCII texts. */
        const char *reason = llhttp_get_error_reason(&r->parser);
        set_error(r->err, 400, "http.bad_request", "Bad request: %s", reason ? reason : llhttp_errno_name(e));
        return -EBADMSG;
}

/* Feed bytes to llhttp. Returns 1 when the message is complete, 0 when more
 * is needed, or a negative errno with err set. */
static int feed(struct reader *r, const char *data, size_t n) {
        if (n == 0)
                return r->message_complete;
        llhttp_errno_t e = llhttp_execute(&r->parser, data, n);
        switch (e) {
        case HPE_OK:
                return 0;
        case HPE_PAUSED:
        case HPE_PAUSED_UPGRADE: /* we never switch protocols; answered with Connection: close */
                if (r->message_complete)
                        return 1;
                return map_llhttp_error(r, e);
        default:
                return map_llhttp_error(r, e);
        }
}

static int send_all_hooked(int fd, struct iovec *iov, size_t n_iov, uint64_t deadline_ns,
                           const struct http_on_block *hook) {
        bool blocked = false;
        while (n_iov > 0) {
                if (iov->iov_len == 0) {
                        iov++;
                        n_iov--;
                        continue;
                }
                struct msghdr mh = { .msg_iov = iov, .msg_iovlen = n_iov };
                ssize_t k = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN && errno != EWOULDBLOCK)
                                return -errno;
                        if (!blocked && hook && hook->fn)
                                hook->fn(hook->userdata);
                        blocked = true;
                        int ms = deadline_ns ? remaining_ms(deadline_ns) : -1;
                        if (ms == 0)
                                return -ETIMEDOUT;
                        struct pollfd pfd = { .fd = fd, .events = POLLOUT };
                        if (poll(&pfd, 1, ms) < 0 && errno != EINTR)
                                return -errno;
                        continue;
                }
                size_t done = (size_t) k;
                while (n_iov > 0 && done >= iov->iov_len) {
                        done -= iov->iov_len;
                        iov++;
                        n_iov--;
                }
                if (n_iov > 0) {
                        iov->iov_base = (char *) iov->iov_base + done;
                        iov->iov_len -= done;
                }
        }
        return 0;
}

static int send_all(int fd, struct iovec *iov, size_t n_iov, uint64_t deadline_ns) {
        return send_all_hooked(fd, iov, n_iov, deadline_ns, NULL);
}

/* Make room for at least one more read past the body: the buffer grows by
 * doubling up to max_body_bytes + BODY_HEADROOM, which is always enough
 * because raw bytes never pile up (llhttp consumes every read). */
static int ensure_room(struct reader *r, size_t want_total) {
        size_t limit = r->lim->max_body_bytes > SIZE_MAX - BODY_HEADROOM - 1
                               ? SIZE_MAX
                               : (size_t) r->lim->max_body_bytes + BODY_HEADROOM + 1;
        if (want_total > limit)
                want_total = limit;
        if (r->buf_size >= want_total)
                return 0;
        size_t size = r->buf_size ? r->buf_size : HEAD_READ_SIZE;
        while (size < want_total)
                size = size > limit / 2 ? limit : size * 2;
        char *b = realloc(r->buf, size);
        if (!b)
                return -ENOMEM;
        r->buf = b;
        r->buf_size = size;
        return 0;
}

/* The head has been parsed: checks that must happen before any body byte
 * is read. Returns 0 or a negative errno with err set. */
static int after_head(struct reader *r, int fd, struct http_request *req) {
        llhttp_t *p = &r->parser;

        if (!r->headers_complete)
                return bad_head(r, "malformed request head");
        if (p->http_major != 1 || p->http_minor > 1) {
                set_error(r->err, 400, "http.bad_request", "Bad request: unsupported HTTP version %u.%u",
                          p->http_major, p->http_minor);
                return -EBADMSG;
        }
        if ((p->flags & F_CONTENT_LENGTH) && (p->flags & (F_TRANSFER_ENCODING | F_CHUNKED)))
                return bad_head(r, "Content-Length with Transfer-Encoding");

        bool chunked = p->flags & F_CHUNKED;
        bool has_cl = p->flags & F_CONTENT_LENGTH;
        if (has_cl && p->content_length > r->lim->max_body_bytes) {
                set_error(r->err, 413, "http.too_large", "Request body too large (limit %llu bytes)",
                          (unsigned long long) r->lim->max_body_bytes);
                return -EFBIG;
        }
        if (has_cl) {
                int k = ensure_room(r, (size_t) p->content_length + 1);
                if (k < 0) {
                        set_error(r->err, 500, "http.internal_error", "Internal error reading the request");
                        return k;
                }
                r->buf_fixed = true;
        }

        const char *m = llhttp_method_name((llhttp_method_t) p->method);
        snprintf(req->method, sizeof req->method, "%s", m ? m : "UNKNOWN");
        req->http_major = p->http_major;
        req->http_minor = p->http_minor;
        req->header_bytes = r->head_bytes;
        req->expect_continue = r->expect_continue;
        if (!r->url.p || r->url.len == 0)
                return bad_head(r, "empty request target");
        req->url = TAKE_PTR(r->url.p);
        /* absolute-form (RFC 9112 3.2.2) must be accepted: route on its path */
        const char *path = req->url;
        if (strncasecmp(path, "http://", 7) == 0 || strncasecmp(path, "https://", 8) == 0) {
                path = strchr(path, ':') + 3;
                path += strcspn(path, "/?#");
        }
        size_t plen = strcspn(path, "?#");
        req->path = plen == 0 ? strdup("/") : strndup(path, plen);
        if (!req->path) {
                set_error(r->err, 500, "http.internal_error", "Internal error reading the request");
                return -ENOMEM;
        }
        req->content_type = TAKE_PTR(r->content_type.p);
        req->authorization = TAKE_PTR(r->authorization.p);
        req->n_authorization = r->n_authorization;

        /* Before the body and before promising to take it (100 Continue). */
        if (r->lim->on_head && r->lim->on_head(r->lim->userdata, req) < 0) {
                *r->err = (struct http_error) { 0 };
                return -ECANCELED;
        }

        /* curl sends Expect for bodies over 1 KiB and waits a second for
         * this; only promise it when a body is coming and is acceptable. */
        if (r->expect_continue && p->http_minor >= 1 && !r->message_complete &&
            (chunked || (has_cl && p->content_length > 0))) {
                static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
                struct iovec iov = { .iov_base = (void *) cont, .iov_len = sizeof cont - 1 };
                int k = send_all(fd, &iov, 1, r->lim->deadline_ns);
                if (k == -ETIMEDOUT) {
                        set_error(r->err, 408, "http.timeout", "Request timeout");
                        return k;
                }
                if (k < 0) {
                        set_error(r->err, 0, "http.io_error", "I/O error: %s", strerror(-k));
                        return k;
                }
        }
        return 0;
}

static void reader_init(struct reader *r) {
        llhttp_settings_init(&r->settings);
        r->settings.on_url = on_url;
        r->settings.on_header_field = on_header_field;
        r->settings.on_header_value = on_header_value;
        r->settings.on_header_value_complete = on_header_value_complete;
        r->settings.on_headers_complete = on_headers_complete;
        r->settings.on_chunk_header = on_chunk_header;
        r->settings.on_body = on_body;
        r->settings.on_message_complete = on_message_complete;
        llhttp_init(&r->parser, HTTP_REQUEST, &r->settings);
        r->parser.data = r;
        /* Lenient flags stay at llhttp_init's default: all off. */
}

/* What the reader holds that was not handed to the request. */
static void reader_free(struct reader *r) {
        free(r->url.p);
        free(r->field.p);
        free(r->value.p);
        free(r->content_type.p);
        free(r->authorization.p);
        free(r->buf);
}

static int no_memory(struct reader *r) {
        set_error(r->err, 500, "http.internal_error", "Internal error reading the request");
        return -ENOMEM;
}

/* Until fd is readable or the deadline passes: 1 readable, 0 to wait
 * again (a signal, or time to re-check the deadline), or -errno with
 * err set. */
static int wait_readable(struct reader *r, int fd) {
        int ms = remaining_ms(r->lim->deadline_ns);
        if (ms == 0) {
                set_error(r->err, 408, "http.timeout", "Request timeout");
                return -ETIMEDOUT;
        }
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int k = poll(&pfd, 1, ms);
        if (k < 0 && errno == EINTR)
                return 0;
        if (k < 0) {
                int ret = -errno;
                set_error(r->err, 0, "http.io_error", "I/O error: %m");
                return ret;
        }
        return k > 0;
}

/* One read into the buffer, at *off: the head's bytes at its start, the
 * body's after what it holds. The count (0: nothing to read yet), or
 * -errno with err set, the peer's close among them (before any byte of a
 * request: nothing to answer; after some: an incomplete request). */
static ssize_t read_some(struct reader *r, int fd, size_t received, size_t *off) {
        if (r->head_done && !r->buf_fixed && ensure_room(r, r->body_len + BODY_HEADROOM / 2) < 0)
                return no_memory(r);
        *off = r->head_done ? r->body_len : 0;
        ssize_t n = recv(fd, r->buf + *off, r->buf_size - *off - 1, MSG_DONTWAIT);
        if (n < 0) {
                if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
                        return 0;
                int ret = -errno;
                set_error(r->err, 0, "http.io_error", "I/O error: %m");
                return ret;
        }
        if (n == 0 && received == 0) {
                set_error(r->err, 0, "http.no_request", "Connection closed before a request");
                return -ECONNRESET;
        }
        if (n == 0) {
                set_error(r->err, 400, "http.bad_request", "Bad request: incomplete request");
                return -EBADMSG;
        }
        return n;
}

/* The n bytes of a read at the buffer's start while the head is not
 * complete: the head's part goes to llhttp; once the head is complete and
 * checked (after_head), the rest of the read is the start of the body,
 * moved to the front where the body lives. > 0 when the request is
 * complete, 0 to read on, or -errno with err set. */
static int take_head(struct reader *r, int fd, struct http_request *req, size_t n) {
        ssize_t h = scan_head(r, r->buf, n);
        if (h < 0)
                return (int) h;
        int ret = feed(r, r->buf, (size_t) h);
        if (ret < 0 || !r->head_done)
                return ret < 0 ? ret : 0;
        ret = after_head(r, fd, req);
        if (ret < 0)
                return ret;
        if (r->message_complete)
                return 1;
        size_t rest = n - (size_t) h;
        memmove(r->buf, r->buf + h, rest);
        r->body_len = 0;
        return feed(r, r->buf, rest);
}

int http_read_request(int fd, const struct http_limits *lim, struct http_request *req,
                      struct http_error *err) {
        struct reader r = { .lim = lim, .err = err };
        size_t received = 0;
        int ret = 0;

        *err = (struct http_error) { 0 };
        *req = (struct http_request) { 0 };
        reader_init(&r);
        if (ensure_room(&r, HEAD_READ_SIZE) < 0)
                ret = no_memory(&r);
        while (ret == 0) {
                size_t off = 0;
                ssize_t n;
                if ((ret = wait_readable(&r, fd)) <= 0)
                        continue;
                if ((n = read_some(&r, fd, received, &off)) <= 0) {
                        ret = (int) n;
                        continue;
                }
                received += (size_t) n;
                ret = r.head_done ? feed(&r, r.buf + off, (size_t) n) : take_head(&r, fd, req, (size_t) n);
        }
        if (ret < 0) {
                reader_free(&r);
                if (ret != -ECANCELED) /* the caller answers from the head */
                        http_request_done(req);
                return ret;
        }
        r.buf[r.body_len] = 0;
        req->body = TAKE_PTR(r.buf);
        req->body_len = r.body_len;
        reader_free(&r);
        return 0;
}

void http_request_done(struct http_request *req) {
        if (!req)
                return;
        free(req->url);
        free(req->path);
        free(req->content_type);
        free(req->authorization);
        free(req->body);
        *req = (struct http_request) { 0 };
}

bool http_media_type_is(const char *content_type, const char *type) {
        if (!content_type)
                return false;
        content_type += strspn(content_type, " \t");
        size_t n = strlen(type);
        if (strncasecmp(content_type, type, n) != 0)
                return false;
        const char *rest = content_type + n;
        rest += strspn(rest, " \t");
        return *rest == 0 || *rest == ';';
}

const char *http_reason(int status) {
        switch (status) {
        case 100: return "Continue";
        case 200: return "OK";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 413: return "Content Too Large";
        case 415: return "Unsupported Media Type";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 503: return "Service Unavailable";
        default: return "Unknown";
        }
}

static int format_head(char *buf, size_t size, int status, const char *content_type, const char *extra_headers,
                       uint64_t content_length) {
        int k = snprintf(buf, size,
                         "HTTP/1.1 %03d %s\r\n"
                         "Content-Type: %s\r\n"
                         "Content-Length: %llu\r\n"
                         "Connection: close\r\n"
                         "%s\r\n",
                         status, http_reason(status), content_type, (unsigned long long) content_length,
                         extra_headers ? extra_headers : "");
        if (k < 0 || (size_t) k >= size)
                return -EINVAL;
        return k;
}

int http_format_head(char *buf, size_t size, int status, const char *extra_headers, uint64_t content_length) {
        return format_head(buf, size, status, "application/json", extra_headers, content_length);
}

int http_write_parts(int fd, const struct iovec *parts, size_t n, uint64_t deadline_ns,
                     const struct http_on_block *hook) {
        struct iovec iov[8];
        if (n > ELEMENTSOF(iov))
                return -EINVAL;
        memcpy(iov, parts, n * sizeof *iov);
        return send_all_hooked(fd, iov, n, deadline_ns, hook);
}

int http_write_typed(int fd, int status, const char *content_type, const char *extra_headers, const char *body,
                     size_t len, bool head_only, uint64_t deadline_ns) {
        char head[1024];
        int k = format_head(head, sizeof head, status, content_type, extra_headers, len);
        if (k < 0)
                return k;
        struct iovec iov[2] = {
                { .iov_base = head, .iov_len = (size_t) k },
                { .iov_base = (void *) body, .iov_len = head_only || !body ? 0 : len },
        };
        return send_all(fd, iov, ELEMENTSOF(iov), deadline_ns);
}

int http_write_response(int fd, int status, const char *extra_headers, const char *body, size_t len,
                        bool head_only, uint64_t deadline_ns) {
        return http_write_typed(fd, status, "application/json", extra_headers, body, len, head_only, deadline_ns);
}

/* Decode one UTF-8 sequence, accepting encoded surrogates ("generalized
 * UTF-8", as pyjson produces). Returns its length and the code point, or 0
 * for an invalid sequence. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
        if (s[0] < 0x80) {
                *cp = s[0];
                return 1;
        }
        size_t len;
        uint32_t c, min;
        if ((s[0] & 0xe0) == 0xc0) {
                len = 2, c = s[0] & 0x1f, min = 0x80;
        } else if ((s[0] & 0xf0) == 0xe0) {
                len = 3, c = s[0] & 0x0f, min = 0x800;
        } else if ((s[0] & 0xf8) == 0xf0) {
                len = 4, c = s[0] & 0x07, min = 0x10000;
        } else
                return 0;
        if (len > n)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                c = (c << 6) | (s[i] & 0x3f);
        }
        if (c < min || c > 0x10ffff)
                return 0;
        *cp = c;
        return len;
}

char *http_error_body(const char *message, size_t *len_out) {
        static const char prefix[] = "{\"error\": \"", suffix[] = "\"}";
        size_t mlen = strlen(message);
        /* worst case: every byte becomes \uXXXX (6), a 4-byte sequence 12 */
        if (mlen > (SIZE_MAX - sizeof prefix - sizeof suffix) / 6)
                return NULL;
        size_t cap = sizeof prefix + sizeof suffix + mlen * 6 + 1;
        char *out = malloc(cap);
        if (!out)
                return NULL;
        size_t o = 0;
        memcpy(out, prefix, sizeof prefix - 1);
        o += sizeof prefix - 1;
        const unsigned char *s = (const unsigned char *) message;
        for (size_t i = 0; i < mlen;) {
                unsigned char c = s[i];
                const char *esc = NULL;
                switch (c) {
                case '"': esc = "\\\""; break;
                case '\\': esc = "\\\\"; break;
                case '\n': esc = "\\n"; break;
                case '\r': esc = "\\r"; break;
                case '\t': esc = "\\t"; break;
                case '\b': esc = "\\b"; break;
                case '\f': esc = "\\f"; break;
                }
                if (esc) {
                        memcpy(out + o, esc, 2);
                        o += 2;
                        i++;
                        continue;
                }
                if (c >= 0x20 && c < 0x7f) {
                        out[o++] = (char) c;
                        i++;
                        continue;
                }
                uint32_t cp;
                size_t l = utf8_decode(s + i, mlen - i, &cp);
                if (l == 0) {
                        cp = 0xfffd;
                        l = 1;
                }
                i += l;
                if (cp >= 0x10000) {
                        cp -= 0x10000;
                        o += (size_t) sprintf(out + o, "\\u%04x\\u%04x", 0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
                } else
                        o += (size_t) sprintf(out + o, "\\u%04x", cp);
        }
        memcpy(out + o, suffix, sizeof suffix);
        o += sizeof suffix - 1;
        if (len_out)
                *len_out = o;
        return out;
}

int http_write_error(int fd, int status, const char *message, const char *extra_headers,
                     bool head_only, uint64_t deadline_ns) {
        size_t len;
        _cleanup_free_ char *body = http_error_body(message, &len);
        if (!body)
                return -ENOMEM;
        return http_write_response(fd, status, extra_headers, body, len, head_only, deadline_ns);
}

/* Reads and discards what the client sends until its EOF, deadline_ns or
 * LINGER_MAX_BYTES (counting the `taken` already read); true when it
 * stopped at the byte budget. */
static bool drain(int fd, uint64_t deadline_ns, size_t taken) {
        char sink[4096];
        size_t total = taken;

        while (total < LINGER_MAX_BYTES) {
                int ms = remaining_ms(deadline_ns);
                if (ms == 0)
                        return false;
                struct pollfd pfd = { .fd = fd, .events = POLLIN };
                int k = poll(&pfd, 1, ms);
                if (k < 0 && errno != EINTR)
                        return false;
                if (k <= 0)
                        continue;
                ssize_t n = recv(fd, sink, sizeof sink, MSG_DONTWAIT);
                if (n == 0)
                        return false;
                if (n < 0) {
                        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
                                continue;
                        return false;
                }
                total += (size_t) n;
        }
        return true;
}

void http_linger(int fd, uint64_t deadline_ns) {
        if (shutdown(fd, SHUT_WR) < 0)
                return;
        drain(fd, deadline_ns, 0);
}

/* Part of what we sent (the FIN included) is not yet acknowledged by a
 * TCP peer. TCP_INFO: the unprivileged side's filter allows getsockopt,
 * not ioctl. */
static bool answer_in_flight(int fd) {
        struct tcp_info ti = { 0 };
        socklen_t len = sizeof ti;
        if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
                return false;
        return ti.tcpi_unacked > 0 || ti.tcpi_notsent_bytes > 0;
}

void http_finish(int fd, uint64_t deadline_ns) {
        char sink[4096];

        if (shutdown(fd, SHUT_WR) < 0)
                return;
        ssize_t n = recv(fd, sink, sizeof sink, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
                n = 1;
        if (n <= 0)
                return; /* nothing unread (EAGAIN), the client's EOF, or gone */
        if (!drain(fd, deadline_ns, (size_t) n))
                return;
        /* A client that sends more than the budget gets its RST, but only
         * once the answer has left: the kernel then has it on the client's
         * side, readable before the reset. */
        while (remaining_ms(deadline_ns) > 0 && answer_in_flight(fd))
                (void)poll(NULL, 0, 10);
}
