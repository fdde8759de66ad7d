/* SPDX-License-Identifier: Apache-2.0 */
/* Whole writes to a file descriptor. */
#pragma once

#include <stddef.h>

/* Writes all len bytes of buf, retrying after EINTR and short writes:
 * 0, or a negative errno. */
int fd_write_all(int fd, const void *buf, size_t len);
