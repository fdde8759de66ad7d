/* SPDX-License-Identifier: Apache-2.0 */
/* Whole writes to a file descriptor. */
#include <errno.h>
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
