/* SPDX-License-Identifier: Apache-2.0 */
/* Landlock (Documentation/userspace-api/landlock.rst). Debian 12's headers
 * stop at ABI 2, so the later bits and the larger ruleset attribute are
 * defined here and only used when the running kernel reports that ABI. */
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "landlock.h"
#include "macro.h"

#define LL_FS_TRUNCATE (1ULL << 14)   /* ABI 3 */
#define LL_FS_IOCTL_DEV (1ULL << 15)  /* ABI 5 */
#define LL_NET_BIND_TCP (1ULL << 0)   /* ABI 4 */
#define LL_NET_CONNECT_TCP (1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX (1ULL << 0) /* ABI 6 */
#define LL_SCOPE_SIGNAL (1ULL << 1)

struct ll_ruleset_attr { /* ABI 6 layout */
        uint64_t handled_access_fs;
        uint64_t handled_access_net;
        uint64_t scoped;
};

#define LL_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)

int landlock_abi(void) {
        long r = syscall(__NR_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
        if (r < 0)
                return errno == ENOSYS ? -EOPNOTSUPP : negative_errno();
        return (int)r;
}

uint64_t landlock_fs_rights(int abi) {
        uint64_t r = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; /* ABI 1: bits 0..12 */
        if (abi >= 2)
                r |= LANDLOCK_ACCESS_FS_REFER;
        if (abi >= 3)
                r |= LL_FS_TRUNCATE;
        if (abi >= 5)
                r |= LL_FS_IOCTL_DEV;
        return r;
}

uint64_t landlock_net_rights(int abi) {
        return abi >= 4 ? (LL_NET_BIND_TCP | LL_NET_CONNECT_TCP) : 0;
}

uint64_t landlock_scopes(int abi) {
        return abi >= 6 ? (LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL) : 0;
}

static int add_path_rule(int ruleset, int fd, uint64_t access) {
        struct landlock_path_beneath_attr pb = { .allowed_access = access, .parent_fd = fd };
        if (syscall(__NR_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0)
                return negative_errno();
        return 0;
}

static int add_path(int ruleset, const char *path, uint64_t access, int must_exist) {
        _cleanup_close_ int fd = open(path, O_PATH | O_CLOEXEC);
        if (fd < 0)
                return (!must_exist && errno == ENOENT) ? 0 : negative_errno();
        return add_path_rule(ruleset, fd, access);
}

int landlock_ruleset_new(const char *const *exec_trees, const char *jail_dir, const char *const *ro_files,
                         const char *const *rw_files, int *abi_out) {
        int abi = landlock_abi();
        if (abi < 0)
                return abi;
        struct ll_ruleset_attr attr = {
                .handled_access_fs = landlock_fs_rights(abi),
                .handled_access_net = landlock_net_rights(abi),
                .scoped = landlock_scopes(abi),
        };
        size_t size = abi >= 6 ? sizeof attr : abi >= 4 ? offsetof(struct ll_ruleset_attr, scoped)
                                                         : offsetof(struct ll_ruleset_attr, handled_access_net);
        _cleanup_close_ int rs = (int)syscall(__NR_landlock_create_ruleset, &attr, size, 0);
        if (rs < 0)
                return negative_errno();
        int r;
        for (size_t i = 0; exec_trees && exec_trees[i]; i++)
                if ((r = add_path(rs, exec_trees[i], LL_READ | LANDLOCK_ACCESS_FS_EXECUTE, 1)) < 0)
                        return r;
        if ((r = add_path(rs, jail_dir, LL_READ, 1)) < 0)
                return r;
        /* Single files take file rights only (directory rights -> EINVAL). */
        for (size_t i = 0; ro_files && ro_files[i]; i++)
                if ((r = add_path(rs, ro_files[i], LANDLOCK_ACCESS_FS_READ_FILE, 0)) < 0)
                        return r;
        /* open(os.devnull, 'w') truncates: TRUNCATE where the ABI has it. */
        uint64_t rw = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE | (abi >= 3 ? LL_FS_TRUNCATE : 0);
        for (size_t i = 0; rw_files && rw_files[i]; i++)
                if ((r = add_path(rs, rw_files[i], rw, 0)) < 0)
                        return r;
        *abi_out = abi;
        return TAKE_FD(rs);
}

int landlock_allow_rw(int ruleset_fd, int dirfd, int abi) {
        uint64_t rw = landlock_fs_rights(abi) & ~(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_MAKE_CHAR |
                                                  LANDLOCK_ACCESS_FS_MAKE_BLOCK | LL_FS_IOCTL_DEV);
        return add_path_rule(ruleset_fd, dirfd, rw);
}

int landlock_scope_signals(void) {
        int abi = landlock_abi();
        if (abi < 6)
                return abi < 0 ? abi : -EOPNOTSUPP;
        struct ll_ruleset_attr attr = { .scoped = LL_SCOPE_SIGNAL };
        _cleanup_close_ int rs = (int)syscall(__NR_landlock_create_ruleset, &attr, sizeof attr, 0);
        if (rs < 0)
                return negative_errno();
        return landlock_enforce(rs);
}

int landlock_enforce(int ruleset_fd) {
        if (syscall(__NR_landlock_restrict_self, ruleset_fd, 0) < 0)
                return negative_errno();
        return 0;
}

int landlock_deny_all(void) {
        int abi = landlock_abi();
        if (abi < 1)
                return abi < 0 ? abi : -EOPNOTSUPP;
        struct ll_ruleset_attr attr = {
                .handled_access_fs = landlock_fs_rights(abi),
                .handled_access_net = landlock_net_rights(abi),
                .scoped = landlock_scopes(abi),
        };
        size_t size = abi >= 6 ? sizeof attr
                      : abi >= 4 ? offsetof(struct ll_ruleset_attr, scoped)
                                 : offsetof(struct ll_ruleset_attr, handled_access_net);
        _cleanup_close_ int rs = (int)syscall(__NR_landlock_create_ruleset, &attr, size, 0);
        if (rs < 0)
                return negative_errno();
        return landlock_enforce(rs);
}
