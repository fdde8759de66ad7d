/* SPDX-License-Identifier: Apache-2.0 */
/* codejaild's side of the JWT verifier plugin (auth.h, struct auth_ops).
 *
 * Linking nettle, hogweed and GMP cost every instance ~0.4 ms of start-up
 * (README "Performance"), authentication on or off. The verifier lives in
 * codejail-auth.so, loaded here when a key set is parsed, i.e. only with
 * jwt_jwks_file set, while the configuration is read: before the instance
 * hardens itself, so the capability-less child only calls into code that
 * is already mapped.
 *
 * Where: $(pkglibdir)/codejail-auth.so, fixed at build time; only when it
 * does not exist, <directory of the executable>/.libs/codejail-auth.so
 * (the uninstalled build tree, where the tests run codejaild). The path is
 * walked from / one directory at a time, without following a symbolic
 * link: each directory owned by root or by us, writable by no one else (a
 * sticky one owned by root, like /tmp, lets no one else rename what is in
 * it), the file a regular file owned by root or by us, writable by no one
 * else. Then the descriptor that was checked is what is loaded (through
 * /proc/self/fd): no second lookup by path a local writer could race. Its
 * table must carry this build's ABI and version. Any failure fails the key
 * set, hence the configuration: authentication is never silently off. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "errbuf.h"
#include "macro.h"

static const struct auth_ops *ops;

static bool owner_ok(const struct stat *st) {
        return st->st_uid == 0 || st->st_uid == geteuid();
}

static bool dir_ok(const struct stat *st) {
        if (!S_ISDIR(st->st_mode) || !owner_ok(st))
                return false;
        return !(st->st_mode & (S_IWGRP | S_IWOTH)) || (st->st_uid == 0 && (st->st_mode & S_ISVTX));
}

/* The checked descriptor of the plugin at path (absolute), or -ENOENT when
 * a component does not exist. */
static int open_trusted(const char *path, char *err, size_t errlen) {
        char buf[PATH_MAX];
        struct stat st;
        if (path[0] != '/' || strlen(path) >= sizeof buf)
                return errbuf(-EINVAL, err, errlen, "%s: not an absolute path", path);
        snprintf(buf, sizeof buf, "%s", path);
        _cleanup_close_ int dfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fstat(dfd, &st) < 0)
                return errbuf(negative_errno(), err, errlen, "/: %s", strerror(errno));
        if (!dir_ok(&st))
                return errbuf(-EPERM, err, errlen, "/: not owned by root, or writable by others");
        char *name = buf + 1;
        for (char *slash; (slash = strchr(name, '/')); name = slash + 1) {
                if (slash == name)
                        continue;
                *slash = '\0';
                int nfd = openat(dfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (nfd < 0) {
                        int e = errno;
                        if (e == ENOENT)
                                return -ENOENT;
                        return errbuf(-e, err, errlen, "%s: %s", buf,
                                      e == ENOTDIR ? "not a directory (a symbolic link on the way?)" : strerror(e));
                }
                close(dfd);
                dfd = nfd;
                if (fstat(dfd, &st) < 0)
                        return errbuf(negative_errno(), err, errlen, "%s: %s", buf, strerror(errno));
                if (!dir_ok(&st))
                        return errbuf(-EPERM, err, errlen, "%s: a directory on the way owned by another user, or "
                                      "writable by others", buf);
                *slash = '/';
        }
        _cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return errno == ENOENT ? -ENOENT : errbuf(negative_errno(), err, errlen, "%s: %s", path, strerror(errno));
        if (fstat(fd, &st) < 0)
                return errbuf(negative_errno(), err, errlen, "%s: %s", path, strerror(errno));
        if (!S_ISREG(st.st_mode) || !owner_ok(&st) || (st.st_mode & (S_IWGRP | S_IWOTH)))
                return errbuf(-EPERM, err, errlen, "%s: not a regular file owned by root and writable only by it", path);
        return TAKE_FD(fd);
}

static int locate(char *path, size_t size, char *err, size_t errlen) {
        snprintf(path, size, "%s/%s", CODEJAIL_PLUGIN_DIR, AUTH_PLUGIN_NAME);
        int r = open_trusted(path, err, errlen);
        if (r != -ENOENT)
                return r;
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n > 0) {
                exe[n] = '\0';
                char *slash = strrchr(exe, '/');
                if (slash)
                        *slash = '\0';
                snprintf(path, size, "%s/.libs/%s", exe, AUTH_PLUGIN_NAME);
                if ((r = open_trusted(path, err, errlen)) != -ENOENT)
                        return r;
        }
        return errbuf(-ENOENT, err, errlen, "%s/%s: not found", CODEJAIL_PLUGIN_DIR, AUTH_PLUGIN_NAME);
}

static int load(char *err, size_t errlen) {
        if (ops)
                return 0;
        char path[PATH_MAX + 32], fdpath[64];
        _cleanup_close_ int fd = locate(path, sizeof path, err, errlen);
        if (fd < 0)
                return fd;
        /* The file that was checked, by its descriptor. RTLD_NOW: every
         * symbol now, not at the first token in the child; never unloaded. */
        snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", fd);
        void *h = dlopen(fdpath, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
        if (!h)
                return errbuf(-ENOEXEC, err, errlen, "%s: %s", path, dlerror());
        const struct auth_ops *o = dlsym(h, AUTH_PLUGIN_SYMBOL);
        if (!o || o->abi != AUTH_OPS_ABI || !streq_safe(o->version, PACKAGE_VERSION) || !o->keys_parse ||
            !o->keys_free || !o->keys_count || !o->check)
                return errbuf(-ENOEXEC, err, errlen, "%s: not this build's JWT verifier", path);
        ops = o;
        return 0;
}

int auth_keys_parse(const char *text, size_t len, struct auth_keys **ret, char *err, size_t errlen) {
        char why[PATH_MAX + 128] = "";
        int r = load(why, sizeof why);
        if (r < 0)
                return errbuf(r, err, errlen, "loading the JWT verifier: %s", why);
        return ops->keys_parse(text, len, ret, err, errlen);
}

/* Key sets only exist once the plugin is loaded. */
void auth_keys_free(struct auth_keys *k) {
        if (k && ops)
                ops->keys_free(k);
}

size_t auth_keys_count(const struct auth_keys *k) {
        return k && ops ? ops->keys_count(k) : 0;
}

int auth_check(const struct auth_policy *p, const char *authorization, int64_t now, struct auth_caller *caller,
               struct auth_error *err) {
        if (ops)
                return ops->check(p, authorization, now, caller, err);
        /* No key set was ever parsed: refuse, as auth.c does without keys. */
        *err = (struct auth_error){ 0 };
        err->log_status = "auth.invalid";
        snprintf(err->reason, sizeof err->reason, "no key set loaded");
        return -EACCES;
}
