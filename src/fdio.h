/* SPDX-License-Identifier: Apache-2.0 */
/* Whole writes to a file descriptor; one read of a small file. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Writes all len bytes of buf, retrying after EINTR and short writes:
 * 0, or a negative errno. */
int fd_write_all(int fd, const void *buf, size_t len);

/* Reads what one read(2) gives of path (under dfd; the last component
 * not a symbolic link) into buf, at most size - 1 bytes, and ends it with
 * a NUL: procfs, sysfs and securityfs files give all they have at once.
 * The number of bytes, or a negative errno. */
ssize_t fd_read_small(int dfd, const char *path, char *buf, size_t size);
