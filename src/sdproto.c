/* SPDX-License-Identifier: Apache-2.0 */
/* systemd's client protocols on plain sockets (see sdproto.h for why). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "macro.h"
#include "sdproto.h"

#define JOURNAL_SOCKET "/run/systemd/journal/socket"
#define MAX_FIELDS 64

static int parse_int(const char *s, long *out) {
        char *end;
        if (!s || !*s)
                return -EINVAL;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || *end || v < 0)
                return -EINVAL;
        *out = v;
        return 0;
}

int sdproto_listen_fds(void) {
        long pid, n;
        int r = 0;
        /* sd_listen_fds(3)'s order: the PID first (not for us: 0, whatever
         * LISTEN_FDS says), then the count, which must be positive. The
         * bound of 1024 is ours: systemd passes one fd per Accept=yes. */
        const char *e_pid = getenv("LISTEN_PID"), *e_fds = getenv("LISTEN_FDS");
        if (!e_pid)
                goto out;
        if (parse_int(e_pid, &pid) < 0) {
                r = -EINVAL;
                goto out;
        }
        if (pid <= 0) {
                r = -ERANGE; /* as libsystemd's parse_pid() */
                goto out;
        }
        if (pid != (long)getpid() || !e_fds)
                goto out; /* meant for another process */
        if (parse_int(e_fds, &n) < 0 || n <= 0 || n > 1024) {
                r = -EINVAL;
                goto out;
        }
        for (int fd = 3; fd < 3 + (int)n; fd++)
                if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
                        r = negative_errno();
                        goto out;
                }
        r = (int)n;
out:
        /* Never hand them to a child. */
        unsetenv("LISTEN_PID");
        unsetenv("LISTEN_FDS");
        unsetenv("LISTEN_FDNAMES");
        return r;
}

int sdproto_is_socket(int fd, int type, int listening) {
        struct stat st;
        int v = 0;
        socklen_t l = sizeof v;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISSOCK(st.st_mode))
                return 0;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &l) < 0)
                return negative_errno();
        if (v != type)
                return 0;
        if (listening >= 0) {
                l = sizeof v;
                if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &l) < 0)
                        return negative_errno();
                if (!v != !listening)
                        return 0;
        }
        return 1;
}

/* $NOTIFY_SOCKET: a path, or "@name" for the abstract namespace. */
static int notify_address(struct sockaddr_un *sa, socklen_t *len) {
        const char *e = getenv("NOTIFY_SOCKET");
        if (!e || !*e)
                return 0;
        size_t n = strlen(e);
        if ((e[0] != '/' && e[0] != '@') || n >= sizeof sa->sun_path)
                return -EINVAL;
        memset(sa, 0, sizeof *sa);
        sa->sun_family = AF_UNIX;
        memcpy(sa->sun_path, e, n);
        if (e[0] == '@')
                sa->sun_path[0] = '\0';
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (e[0] == '/'));
        return 1;
}

int sdproto_notify(const char *state) {
        struct sockaddr_un sa;
        socklen_t len;
        int r = notify_address(&sa, &len);
        if (r <= 0)
                return r;
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, len) < 0)
                return negative_errno();
        return 1;
}

bool sdproto_journal_available(void) {
        return access(JOURNAL_SOCKET, W_OK) == 0;
}

int sdproto_journal_sendv(const struct iovec *fields, size_t n) {
        return sdproto_journal_sendv_to(JOURNAL_SOCKET, fields, n);
}

/* Send fields on fd, to socket_path (NULL: fd is connected already). */
static int journal_send(int fd, const char *socket_path, const struct iovec *fields, size_t n) {
        /* Per field: "KEY=value\n", or for values with a newline the binary
         * form "KEY\n" <le64 length> value "\n". */
        struct iovec iov[MAX_FIELDS * 4];
        uint64_t lens[MAX_FIELDS];
        size_t k = 0;
        if (n > MAX_FIELDS)
                return -E2BIG;
        for (size_t i = 0; i < n; i++) {
                const char *f = fields[i].iov_base, *eq = memchr(f, '=', fields[i].iov_len);
                if (!eq || eq == f)
                        return -EINVAL;
                size_t klen = (size_t)(eq - f), vlen = fields[i].iov_len - klen - 1;
                if (!memchr(eq + 1, '\n', vlen)) {
                        iov[k++] = fields[i];
                        iov[k++] = (struct iovec){ .iov_base = "\n", .iov_len = 1 };
                        continue;
                }
                uint64_t le = vlen;
                for (int b = 0; b < 8; b++)
                        ((unsigned char *)&lens[i])[b] = (unsigned char)(le >> (8 * b));
                iov[k++] = (struct iovec){ .iov_base = (void *)f, .iov_len = klen };
                iov[k++] = (struct iovec){ .iov_base = "\n", .iov_len = 1 };
                iov[k++] = (struct iovec){ .iov_base = &lens[i], .iov_len = 8 };
                iov[k++] = (struct iovec){ .iov_base = (void *)(eq + 1), .iov_len = vlen };
                iov[k++] = (struct iovec){ .iov_base = "\n", .iov_len = 1 };
        }
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct msghdr mh = { .msg_iov = iov, .msg_iovlen = k };
        if (socket_path) {
                if (strlen(socket_path) >= sizeof sa.sun_path)
                        return -ENAMETOOLONG;
                strcpy(sa.sun_path, socket_path);
                mh.msg_name = &sa, mh.msg_namelen = sizeof sa;
        }
        if (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0)
                return negative_errno();
        return 0;
}

int sdproto_journal_sendv_to(const char *socket_path, const struct iovec *fields, size_t n) {
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        return journal_send(fd, socket_path, fields, n);
}

int sdproto_journal_connect_to(const char *socket_path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(socket_path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, socket_path);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
                return negative_errno();
        return TAKE_FD(fd);
}

int sdproto_journal_connect(void) {
        return sdproto_journal_connect_to(JOURNAL_SOCKET);
}

int sdproto_journal_sendv_fd(int fd, const struct iovec *fields, size_t n) {
        return journal_send(fd, NULL, fields, n);
}
