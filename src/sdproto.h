/* SPDX-License-Identifier: Apache-2.0 */
/* The three systemd protocols the service speaks -- socket activation
 * ($LISTEN_FDS), readiness ($NOTIFY_SOCKET) and the native journal
 * protocol -- implemented on plain sockets, as systemd documents them for
 * clients without libsystemd (systemd.io: "Native Journal Protocol",
 * sd_notify(3), sd_listen_fds(3)).
 *
 * Why not libsystemd: on Debian 12 it pulls libgcrypt, liblzma, libzstd,
 * liblz4 and libcap into every per-connection instance. Measured: +0.8 ms
 * CPU and +1.3 MiB RSS per instance just for loading them, more than the
 * instance's whole budget, and code the privileged process never needs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

/* sd_listen_fds(unset_environment=true): the number of passed fds
 * (starting at 3, set CLOEXEC) when $LISTEN_PID is us, 0 when none were
 * passed, -errno when the variables are malformed. */
int sdproto_listen_fds(void);

/* sd_is_socket(fd, AF_UNSPEC, type, listening): 1 when fd is a socket of
 * that type (and listening state when listening >= 0), 0 when not,
 * -errno on error. */
int sdproto_is_socket(int fd, int type, int listening);

/* sd_notify(0, state): 1 when sent, 0 when $NOTIFY_SOCKET is unset,
 * -errno on failure. */
int sdproto_notify(const char *state);

/* True when the journal socket exists and is writable. */
bool sdproto_journal_available(void);

/* sd_journal_sendv(): each iovec one "FIELD=value" (value may contain
 * newlines; the binary field format is used for those). 0 or -errno. */
int sdproto_journal_sendv(const struct iovec *fields, size_t n);
/* The same to another socket (tests). */
int sdproto_journal_sendv_to(const char *socket_path, const struct iovec *fields, size_t n);

/* A datagram socket connected to the journal (to socket_path), for a
 * process that will not be allowed to create sockets later (privsep.c):
 * fd (CLOEXEC) or -errno. */
int sdproto_journal_connect(void);
int sdproto_journal_connect_to(const char *socket_path);
/* sd_journal_sendv() on such a connected socket. */
int sdproto_journal_sendv_fd(int fd, const struct iovec *fields, size_t n);
