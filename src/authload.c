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
 * (the uninstalled build tree, where the tests run codejaild). Either must
 * be a regular file owned by root or by us and writable by no one else; its
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

/* 0 when path is a file we may load; -ENOENT when there is none. */
static int trusted(const char *path, char *err, size_t errlen) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        struct stat st;
        if (fd < 0)
                return errno == ENOENT ? -ENOENT : errbuf(negative_errno(), err, errlen, "%s: %s", path, strerror(errno));
        if (fstat(fd, &st) < 0)
                return errbuf(negative_errno(), err, errlen, "%s: %s", path, strerror(errno));
        if (!S_ISREG(st.st_mode) || (st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & (S_IWGRP | S_IWOTH)))
                return errbuf(-EPERM, err, errlen, "%s: not a regular file owned by root and writable only by it", path);
        return 0;
}

static int locate(char *path, size_t size, char *err, size_t errlen) {
        snprintf(path, size, "%s/%s", CODEJAIL_PLUGIN_DIR, AUTH_PLUGIN_NAME);
        int r = trusted(path, err, errlen);
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
                if ((r = trusted(path, err, errlen)) != -ENOENT)
                        return r;
        }
        return errbuf(-ENOENT, err, errlen, "%s/%s: not found", CODEJAIL_PLUGIN_DIR, AUTH_PLUGIN_NAME);
}

static int load(char *err, size_t errlen) {
        if (ops)
                return 0;
        char path[PATH_MAX + 32];
        int r = locate(path, sizeof path, err, errlen);
        if (r < 0)
                return r;
        /* RTLD_NOW: every symbol now, not at the first token in the child;
         * never unloaded. */
        void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
        if (!h)
                return errbuf(-ENOEXEC, err, errlen, "%s", dlerror());
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
