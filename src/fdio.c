/* SPDX-License-Identifier: Apache-2.0 */
/* Whole writes to a file descriptor; one read of a small file. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "fdio.h"
#include "macro.h"

int fd_write_all(int fd, const void *buf, size_t len) {
        const char *p = buf;
        while (len > 0) {
                ssize_t k = write(fd, p, len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return negative_errno();
                p += k, len -= (size_t)k;
        }
        return 0;
}

ssize_t fd_read_small(int dfd, const char *path, char *buf, size_t size) {
        _cleanup_close_ int fd = openat(dfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
        if (fd < 0)
                return negative_errno();
        ssize_t n = read(fd, buf, size - 1);
        if (n < 0)
                return negative_errno();
        buf[n] = '\0';
        return n;
}
