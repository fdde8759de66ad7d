/* SPDX-License-Identifier: Apache-2.0 */
/* The two messages between an instance's unprivileged side (HTTP, forms,
 * JSON, the answer) and its privileged side (the jail): the validated
 * execution request one way, the raw outcome back. Small, fixed,
 * length-prefixed; the privileged side checks every length and field
 * again and never parses JSON or HTTP. Pure: no I/O but the fd given. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "conf.h"
#include "jail.h"

#define EXECMSG_MAX_FILES 16
#define EXECMSG_MAX_NAME 64

/* What the jail needs, nothing more (jail.h's jail_request, owned). */
struct execmsg_request {
        char *stdin_data;      /* the wrapper's stdin: [code, globals] as JSON text */
        size_t stdin_len;
        size_t n_python_path;
        struct limits limits;
        size_t n_files;
        struct jail_file files[EXECMSG_MAX_FILES]; /* names and data point into buf */
        char *buf;             /* the message as received: owns the above */
};

/* What came back: the jail's result, or where its set-up failed. */
struct execmsg_outcome {
        int32_t setup_error;   /* 0, or the positive errno of a set-up failure */
        char step[48];         /* where it failed */
        struct jail_result res; /* out/err malloc'd; teardown never crosses */
};

/* Write the request for req (its limits, files and stdin) to fd. */
int execmsg_send_request(int fd, const struct jail_request *req);
/* Read one request of at most max_bytes from fd and check it: every
 * length in bounds, file names plain (no '/', not "." or ".."), limits in
 * their ranges. 0, -ENODATA when the other side closed before sending a
 * byte (no request), or -EBADMSG (-EMSGSIZE, -errno) with why in err.
 * The same for execmsg_recv_outcome. */
int execmsg_recv_request(int fd, size_t max_bytes, struct execmsg_request *out, char *err, size_t errlen);
/* The same checks on a buffer (the fuzz harness's entry). Takes over buf. */
int execmsg_parse_request(char *buf, size_t len, struct execmsg_request *out, char *err, size_t errlen);
void execmsg_request_done(struct execmsg_request *r);
/* A jail_request view of a received request (pointers into it). */
void execmsg_request_view(const struct execmsg_request *r, struct jail_request *view);

int execmsg_send_outcome(int fd, const struct execmsg_outcome *o);
/* max_bytes bounds the captured streams (2 * OUTPUT plus a margin). */
int execmsg_recv_outcome(int fd, size_t max_bytes, struct execmsg_outcome *out, char *err, size_t errlen);
void execmsg_outcome_done(struct execmsg_outcome *o);
