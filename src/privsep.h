/* SPDX-License-Identifier: Apache-2.0 */
/* Privilege separation of one instance: the process that reads
 * the client's bytes (HTTP, forms, the payload JSON, the JWT) and the jailed
 * program's output holds no capability; a privileged parent only sets up
 * and supervises the one jail. They speak execmsg.h over a socketpair. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "conf.h"
#include "safeexec.h"

/* Serve the connection conn_fd in two processes: fork; the child prepares
 * what it will need (server_prepare), drops (unpriv_drop) and serves the
 * request, sending its one execution to the parent; the parent runs that
 * execution and reaps the child. conn_fd is closed in the parent, which
 * never reads it. The child exits (0 when it served, 1 when not, saying
 * why on stderr as main() would); the parent returns the child's exit
 * status (1 when it died of a signal, logged), or -errno (a malformed or
 * disallowed message, logged). */
int privsep_serve(const struct config *cfg, const char *config_error, int conn_fd);

/* The privileged side: at most one execution request from fd (execmsg.h,
 * bounded by cfg), checked against cfg (enabled; its limits those of a
 * configured context), run (paced on lock_fd, the admission lock the
 * child holds its ticket on, when not -1: pace.h), outcome sent, torn
 * down (fd is the caller's to close: the child's sign that the execution
 * is gone). 0, -EBADMSG
 * for a malformed or disallowed request (logged), or -errno. */
int privsep_supervise(const struct config *cfg, int fd, int lock_fd);

/* The privileged side's one read (privsep_supervise's, and the fuzz
 * harness's): execmsg_recv_request bounded by what cfg lets a request be
 * (0 without a config). */
struct execmsg_request;
int privsep_read_request(const struct config *cfg, int fd, struct execmsg_request *req, char *err, size_t errlen);

/* The unprivileged side's runner for safeexec: executions go to the
 * parent on fd. */
void privsep_runner(int *fd, struct safeexec_runner *out);
