/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: the HTTP request reader (http.c: llhttp glue, head pre-scan,
 * header/body limits) driven through its real entry point,
 * http_read_request(), over a SOCK_SEQPACKET socketpair so the input can
 * arrive in several reads. Input byte 0 picks the record size (0: one
 * record); the rest is the request. The peer's end is shut down after
 * writing, so the reader always ends (EOF), far inside its deadline.
 * Small limits make the 431/413 paths reachable from small inputs; byte 0
 * 0xff keeps the peer open so the 408 path is reached too. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1 || size > 60000)
                return 0;
        /* 0xff: the peer stays connected; a 2 ms deadline must end the read */
        bool keep_open = data[0] == 0xff;
        size_t rec = data[0] && !keep_open ? data[0] : size;
        data++, size--;

        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                abort();
        int sndbuf = 1 << 20;
        setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
        setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &sndbuf, sizeof sndbuf);
        for (size_t off = 0; off < size;) {
                size_t n = size - off < rec ? size - off : rec;
                if (send(sv[1], data + off, n, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t) n)
                        break; /* buffer full: the reader sees a shorter request */
                off += n;
        }
        if (!keep_open)
                shutdown(sv[1], SHUT_WR);

        struct http_limits lim = {
                .max_header_bytes = 1024,
                .max_body_bytes = 2048,
                .deadline_ns = http_now_ns() + (keep_open ? UINT64_C(2000000) : UINT64_C(2000000000)),
        };
        struct http_request req;
        struct http_error err;
        int r = http_read_request(sv[0], &lim, &req, &err);
        if (r == 0) {
                if (req.body_len > lim.max_body_bytes || req.body[req.body_len] != 0)
                        abort();
                if (req.header_bytes > lim.max_header_bytes)
                        abort();
                if (!req.url || !req.path || strlen(req.path) > strlen(req.url))
                        abort();
                if (req.content_type)
                        (void) http_media_type_is(req.content_type, "multipart/form-data");
                http_request_done(&req);
        } else {
                if (memchr(err.message, 0, sizeof err.message) == NULL)
                        abort();
                switch (err.status) {
                case 0: case 400: case 408: case 413: case 431: case 500:
                        break;
                default:
                        abort();
                }
                if (r == -ETIMEDOUT && (!keep_open || err.status != 408))
                        abort(); /* all input was there and EOF too: a timeout is a hang */
                size_t blen;
                char *body = http_error_body(err.message, &blen);
                if (!body || strlen(body) != blen)
                        abort();
                free(body);
        }
        close(sv[0]);
        close(sv[1]);
        return 0;
}
