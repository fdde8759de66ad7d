/* SPDX-License-Identifier: Apache-2.0 */
/* Landlock: the filesystem / TCP / scope boundary of the jail. */
#pragma once
#include <stdint.h>

/* ABI version of the running kernel (>= 1), or -errno (-EOPNOTSUPP when
 * compiled out or disabled at boot). */
int landlock_abi(void);

/* Every filesystem right the given ABI knows (handled = all of them). */
uint64_t landlock_fs_rights(int abi);
uint64_t landlock_net_rights(int abi);
uint64_t landlock_scopes(int abi);

/* Build a ruleset handling everything the ABI offers, with read+execute
 * beneath each of exec_trees (NULL-terminated), read on jail_dir, read of
 * each existing file in ro_files and read+write of each existing file in
 * rw_files (device nodes; both NULL-terminated). Returns the ruleset fd
 * (O_CLOEXEC) or -errno; *abi_out gets the ABI used. */
int landlock_ruleset_new(const char *const *exec_trees, const char *jail_dir, const char *const *ro_files,
                         const char *const *rw_files, int *abi_out);

/* Allow read+write+make+remove beneath dirfd (the tmpfs root of tmp/). */
int landlock_allow_rw(int ruleset_fd, int dirfd, int abi);

/* Enforce on the calling thread (needs no_new_privs). */
int landlock_enforce(int ruleset_fd);

/* The serving process's own domain: no filesystem or network rules, only
 * the signal scope (ABI >= 6), so it can signal what it starts afterwards
 * (its jail) and nothing started outside it (other instances, their
 * jails). -EOPNOTSUPP below ABI 6. */
int landlock_scope_signals(void);

/* A domain that handles every right the kernel's ABI knows and grants
 * none: no file opened, created or executed, no TCP bind/connect, no
 * signal or abstract socket outside it (privsep.c's unprivileged side,
 * which works on the fds it already holds). Needs no_new_privs.
 * -EOPNOTSUPP without Landlock. */
int landlock_deny_all(void);
