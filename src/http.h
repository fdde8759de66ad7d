/* SPDX-License-Identifier: Apache-2.0 */
/* HTTP/1.x for one request per connection: llhttp glue with every buffer
 * capped by the config, one deadline for the whole request, and the
 * response writer (codejail-service(7) "HTTP"). No logging: failures come back as a
 * status, a client-facing message and a log label for server.c to log
 * once. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_request;

struct http_limits {
        size_t max_header_bytes;   /* request line + headers (else 431) */
        uint64_t max_body_bytes;   /* decoded body (else 413) */
        uint64_t deadline_ns;      /* CLOCK_MONOTONIC, absolute (else 408) */
        /* Optional: called once the head is parsed and accepted, before
         * "100 Continue" and before any body byte is read, with req holding
         * the head (no body yet). A negative return stops reading there:
         * http_read_request returns -ECANCELED with the head kept in req,
         * for the caller to answer (server.c: 401 before the body). */
        int (*on_head)(void *userdata, const struct http_request *req);
        void *userdata;
};

struct http_request {
        char method[24];           /* "GET", "POST", ... (llhttp's name) */
        char *url;                 /* request target as sent, NUL-terminated */
        char *path;                /* url without "?query" (and without scheme and
                                    * authority for absolute-form), NUL-terminated */
        char *content_type;        /* last Content-Type header value or NULL */
        char *authorization;       /* last Authorization header value or NULL */
        unsigned n_authorization;  /* how many Authorization headers came */
        bool expect_continue;      /* "Expect: 100-continue" (answered) */
        int http_major, http_minor;
        size_t header_bytes;       /* request line + headers as received */
        char *body;                /* decoded body (chunking removed), NUL-terminated */
        size_t body_len;
};

/* Why a request could not be read: what to answer and what to log.
 * status 0 means "answer nothing" (the peer went away before sending a
 * request, or the connection failed). */
struct http_error {
        int status;                /* 400, 408, 413, 431, 0 */
        const char *log_status;    /* "http.bad_request", "http.timeout", ... */
        char message[160];         /* client-facing text for {"error": ...} */
};

/* Read exactly one request from fd (a connected stream socket) within
 * lim->deadline_ns. Answers "Expect: 100-continue" itself once the head has
 * passed every check (never before a 413). Returns 0 with *req filled, or a
 * negative errno with *err filled: -EBADMSG (400), -ETIMEDOUT (408),
 * -EFBIG (413), -EMSGSIZE (431), -ECONNRESET (peer closed early: status 0
 * unless some bytes were received), -ENOMEM (status 500), other -errno
 * (I/O error, status 0), -ECANCELED (lim->on_head refused the head: *req
 * holds it, *err is empty; the body was not read). */
int http_read_request(int fd, const struct http_limits *lim, struct http_request *req,
                      struct http_error *err);
void http_request_done(struct http_request *req);

/* Case-insensitive media type test ignoring parameters:
 * http_media_type_is("Multipart/Form-Data; boundary=x", "multipart/form-data"). */
bool http_media_type_is(const char *content_type, const char *type);

/* "Not Found" for 404, ...; "Unknown" for codes we do not use. */
const char *http_reason(int status);

/* Write a complete response: status line, Content-Type: application/json,
 * Content-Length, Connection: close, then extra_headers (each line ending in
 * "\r\n", may be NULL), then the body unless head_only. Handles EINTR, short
 * writes and EPIPE (MSG_NOSIGNAL) and gives up at deadline_ns (0: no
 * deadline). Returns 0 or -errno. */
int http_write_response(int fd, int status, const char *extra_headers, const char *body, size_t len,
                        bool head_only, uint64_t deadline_ns);

/* A response written in parts (a body produced while it is sent): the
 * status line and headers of http_write_response() with Content-Length
 * content_length, into buf. Returns the length or -EINVAL (too long). */
int http_format_head(char *buf, size_t size, int status, const char *extra_headers, uint64_t content_length);

/* Called once, the first time a write would block, before waiting: what
 * must not wait for the client (server.c: the end of the execution). */
struct http_on_block {
        void (*fn)(void *userdata);
        void *userdata;
};

/* Write parts[0..n) (n <= 8) completely, as http_write_response() writes
 * (EINTR, short writes, EPIPE, deadline_ns). hook may be NULL. 0 or -errno. */
struct iovec;
int http_write_parts(int fd, const struct iovec *parts, size_t n, uint64_t deadline_ns,
                     const struct http_on_block *hook);
/* The same with another Content-Type (GET /metrics). */
int http_write_typed(int fd, int status, const char *content_type, const char *extra_headers, const char *body,
                     size_t len, bool head_only, uint64_t deadline_ns);

/* {"error": "<message>"} serialized like Python's json.dumps (ensure_ascii;
 * "generalized UTF-8" lone surrogates become \udXXX). Returns a malloc'd
 * string (length in *len_out) or NULL on ENOMEM. */
char *http_error_body(const char *message, size_t *len_out);

/* http_error_body + http_write_response. */
int http_write_error(int fd, int status, const char *message, const char *extra_headers,
                     bool head_only, uint64_t deadline_ns);

/* After answering a request whose body was not (fully) read: stop sending,
 * then read and discard until EOF, deadline_ns, or a small byte budget, so
 * the client sees our answer instead of a RST. */
void http_linger(int fd, uint64_t deadline_ns);

/* After an answer was written whole: stop sending, then, only if the
 * client sent more than its request (a pipelined next one, a stray CRLF),
 * read and discard as http_linger() does. Closing a socket with unread
 * input makes the kernel send a RST, and the client loses whatever of the
 * answer it had not yet received. With nothing unread it costs one
 * non-blocking recv(). */
void http_finish(int fd, uint64_t deadline_ns);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t http_now_ns(void);
