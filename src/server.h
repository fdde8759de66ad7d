/* SPDX-License-Identifier: Apache-2.0 */
/* One connection, one request, one answer, one log entry (codejail-service(7) "HTTP",
 * "API", "Health and the enable switch", "Logs").
 * The only module that decides HTTP statuses and logs per request. */
#pragma once

#include "conf.h"
#include "safeexec.h"

/* The connected socket systemd (Accept=yes: fd 3, LISTEN_FDS=1) or an
 * inetd-style launcher (fd 0) handed us, made close-on-exec: the fd, or
 * -ENOTSOCK when there is no connected stream socket (logged), or another
 * -errno (logged). main() serves it through privsep_serve(). */
int server_connection_fd(void);

/* Serve one request on an already connected stream socket fd (not closed
 * here; the caller owns it). cfg is NULL when the configuration failed to
 * load; config_error then says why (it is logged with every request, never
 * sent to clients). Returns 0 when a request was answered (whatever the
 * status), or -errno. Unit tests drive it with a socketpair. */
int server_handle(const struct config *cfg, const char *config_error, int fd);

/* The same with executions through runner (NULL: the jail in-process). */
int server_handle_with(const struct config *cfg, const char *config_error, int fd,
                       const struct safeexec_runner *runner);

/* Open now what serving will need and may not open later (privsep.c's
 * unprivileged side): the journal socket, /proc/self/status, the health
 * state (read), the admission lock file. A failure to open the lock is
 * answered later, as error.queue. 0. */
int server_prepare(const struct config *cfg);
/* Before server_prepare(): the admission lock, opened by the caller (an
 * fd, taken over), so that its open file description is shared with the
 * privileged side that paces the execution (privsep.c, pace.h). */
void server_use_admission(int fd);

/* In a process forked to serve: the CPU its parent had used until the
 * fork, added to the CODEJAIL_SERVICE_CPU_US it logs. */
void server_mark_split(long long parent_cpu_us);

/* Called first thing in main(): the CPU this process used before it (the
 * launcher's work in the forked child, execve, dynamic linking) is logged
 * apart from the total as CODEJAIL_SERVICE_STARTUP_CPU_US. */
void server_mark_process_start(void);
