/* SPDX-License-Identifier: Apache-2.0 */
/* A fresh sandbox UID per execution, never held by two live executions. */
#pragma once
#include <sys/types.h>

/* Draw uids at random in [min, max] and take an exclusive OFD lock on the
 * byte at offset uid of lock_path (one shared file, no per-uid files left
 * behind; the kernel drops the lock when the holder dies). Returns 0 with
 * *uid and *lock_fd (keep it open for the execution's lifetime) or -errno. */
int uidpick_acquire(const char *lock_path, uid_t min, uid_t max, uid_t *uid, int *lock_fd);

/* Uniform random in [min, max] from getrandom(). */
int uidpick_random(uid_t min, uid_t max, uid_t *out);
