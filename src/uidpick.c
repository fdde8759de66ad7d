/* SPDX-License-Identifier: Apache-2.0 */
/* Fresh random high UID per execution. Upstream codejail shares one sandbox
 * user between all executions, so RLIMIT_NPROC and signals cross between
 * students; a UID no other live execution holds closes that. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/random.h>
#include <unistd.h>

#include "macro.h"
#include "uidpick.h"

int uidpick_random(uid_t min, uid_t max, uid_t *out) {
        if (min > max)
                return -EINVAL;
        uint64_t span = (uint64_t)max - min + 1, x, limit = UINT64_MAX - (UINT64_MAX % span);
        do {
                if (getrandom(&x, sizeof x, 0) != sizeof x)
                        return negative_errno();
        } while (x >= limit); /* no modulo bias */
        *out = (uid_t)(min + x % span);
        return 0;
}

int uidpick_acquire(const char *lock_path, uid_t min, uid_t max, uid_t *uid, int *lock_fd) {
        _cleanup_close_ int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        if (fd < 0)
                return negative_errno();
        for (int attempt = 0; attempt < 64; attempt++) {
                uid_t u;
                int r = uidpick_random(min, max, &u);
                if (r < 0)
                        return r;
                struct flock fl = {
                        .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = (off_t)u, .l_len = 1,
                };
                if (fcntl(fd, F_OFD_SETLK, &fl) == 0) {
                        *uid = u;
                        *lock_fd = TAKE_FD(fd);
                        return 0;
                }
                if (errno != EAGAIN && errno != EACCES)
                        return negative_errno();
        }
        return -EBUSY;
}
