/* SPDX-License-Identifier: Apache-2.0 */
/* The execution's filesystem: a fresh root built from an allow list, the
 * way nsjail and bubblewrap build theirs -- never the host's root with a
 * list of hidden directories. A deny list always misses one: a
 * world-writable AF_UNIX socket a host process had made under /var/lib was
 * reachable from student code, because neither the network namespace nor
 * Landlock (ABI <= 7) mediates connect() on a path socket.
 *
 * root_build() runs in the jail's init, inside its new mount namespace,
 * before any untrusted code exists:
 *   1. every mount private: nothing propagates back to the host
 *   2. detached copies (open_tree) of what the root will hold, taken while
 *      the host's paths are still in view: /usr and the interpreter's
 *      trees, the measured /etc files (links among them are read to be
 *      made again), five device nodes, the jail dir; each made read-only,
 *      nosuid, nodev (devices keep dev, lose exec; the jail dir stays
 *      writable, below)
 *   3. an empty tmpfs at /tmp becomes the new root: the top-level links of
 *      a merged /usr, a /tmp only its owner (the service) may write to,
 *      the copies attached at their own paths, /usr/local covered (trees
 *      beneath it attached on top), empty stand-ins (below)
 *   4. pivot_root into it; the old root detached: no host path remains
 *   5. a procfs of the new PID namespace, its /proc/1 (the init) covered
 *      by a stand-in; the jail's tmp/, a size-capped tmpfs owned by the
 *      execution UID
 *   6. the root's own tmpfs read-only
 * Landlock and AppArmor then decide what of this may be read (landlock.c,
 * apparmor/codejail-sandbox); this decides what exists at all. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <linux/mount.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "macro.h"
#include "root.h"

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif

/* Where the new root is assembled before pivot_root: any directory does,
 * the jail's mount namespace is its own. */
#define NEW_ROOT "/tmp"

/* What of the host's /etc the interpreter and the course libraries need
 * (measured with strace on Debian 12 and 13), file by file: nothing else
 * of /etc exists in the root, not even the rest of the directories these
 * live in (globs; a match that is a symbolic link is made again as one,
 * with the same target; a regular file is bound read-only). */
static const char *const etc_allowed[] = {
        /* numpy and scipy load libblas.so.3 and liblapack.so.3, symbolic
         * links through the alternatives system; OpenBLAS's libblas.so.3
         * then loads libopenblas.so.0 from the same directory, the same way */
        "/etc/alternatives/libblas.so.3-*",
        "/etc/alternatives/liblapack.so.3-*",
        "/etc/alternatives/libopenblas.so.0-*",
        /* Debian's /usr/lib/python3.X/sitecustomize.py is a symlink to it:
         * without its target every run prints "Error in sitecustomize" to
         * stderr (the interpreter reads its cached bytecode under /usr) */
        "/etc/python3.*/sitecustomize.py",
        /* Debian's matplotlib reads it before its bundled matplotlibrc */
        "/etc/matplotlibrc",
};

/* Empty stand-ins: codejail-service(7) "What the jail allows and denies" names reading
 * /etc/hosts and listing /sys among what must fail with PermissionError, as
 * under upstream's AppArmor; with nothing there it would be
 * FileNotFoundError. They hold nothing of the host; Landlock and AppArmor
 * refuse them (the deny tests prove it). */
static const char *const stand_in_files[] = { "etc/hosts" };
static const char *const stand_in_dirs[] = { "sys" };
/* The init's /proc/1 as the program sees it (proc_cover_init()): an empty
 * stand-in but for cmdline, whose read codejail-service(7)
 * "What the jail allows and denies" names among the refusals (EACCES, not missing). */
#define INIT_STAND_IN "proc/1/cmdline"

const char *const root_devices[] = { "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", NULL };

/* The top level of a merged /usr: links in every root whose host has them
 * as links; a host with real directories there gets them bound instead. */
static const char *const top_links[] = { "bin", "sbin", "lib", "lib32", "lib64", "libx32" };

#define MAX_BINDS 24
#define MAX_LINKS 8

struct bind {
        char target[1024]; /* absolute, as seen inside the new root */
        int fd;                /* detached copy (open_tree) */
        bool is_dir;
};

/* A symbolic link of the host's made again in the root. */
struct link {
        char path[256];
        char target[256];
};

struct binds {
        struct bind b[MAX_BINDS];
        size_t n;
        struct link l[MAX_LINKS];
        size_t n_links;
};

static void binds_close(struct binds *bs) {
        for (size_t i = 0; i < bs->n; i++)
                if (bs->b[i].fd >= 0)
                        close(bs->b[i].fd);
        bs->n = 0;
}

static int set_attr(int fd, uint64_t set, uint64_t clr, bool recursive) {
        struct mount_attr a = { .attr_set = set, .attr_clr = clr };
        if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &a, sizeof a) < 0)
                return negative_errno();
        return 0;
}

/* Step 2 for one host path: a detached, read-only copy to attach at the
 * same path inside the new root. A path that does not exist is skipped
 * when optional. */
static int bind_add(struct binds *bs, const char *path, bool optional, uint64_t set, uint64_t clr) {
        struct stat st;
        if (stat(path, &st) < 0)
                return optional && errno == ENOENT ? 0 : negative_errno();
        if (bs->n == MAX_BINDS)
                return -E2BIG;
        bool dir = S_ISDIR(st.st_mode);
        int fd = (int)syscall(SYS_open_tree, AT_FDCWD, path, OPEN_TREE_CLONE | O_CLOEXEC | (dir ? AT_RECURSIVE : 0));
        if (fd < 0)
                return negative_errno();
        int r = set_attr(fd, set, clr, dir);
        if (r < 0) {
                close(fd);
                return r;
        }
        struct bind *b = &bs->b[bs->n++];
        snprintf(b->target, sizeof b->target, "%s", path);
        b->fd = fd;
        b->is_dir = dir;
        return 0;
}

#define RO_ATTRS (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)
/* The working directory is not a read-only mount: a write there must fail
 * with EACCES as under upstream (its owner's 0755/0644 and the sandbox
 * user's DAC), not EROFS, which the kernel checks first. What denies it:
 * the service owns it and the code's UID is another (DAC), Landlock grants
 * read only, the sandbox profile read only. */
#define JAIL_DIR_ATTRS (MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC)

/* One allowed /etc entry: a link is made again (its target, under /usr,
 * is in the root already), a regular file bound; anything else skipped. */
static int etc_add(struct binds *bs, const char *path) {
        struct stat st;
        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        if (S_ISREG(st.st_mode))
                return bind_add(bs, path, true, RO_ATTRS, 0);
        if (!S_ISLNK(st.st_mode))
                return 0;
        if (bs->n_links == MAX_LINKS || strlen(path) >= sizeof bs->l[0].path)
                return -E2BIG;
        struct link *l = &bs->l[bs->n_links];
        ssize_t n = readlink(path, l->target, sizeof l->target - 1);
        if (n < 0)
                return negative_errno();
        if ((size_t)n >= sizeof l->target - 1)
                return -ENAMETOOLONG;
        l->target[n] = '\0';
        snprintf(l->path, sizeof l->path, "%s", path);
        bs->n_links++;
        return 0;
}

static int collect(const struct root_spec *s, struct binds *bs) {
        int r = 0;
        for (size_t i = 0; s->trees[i]; i++)
                if ((r = bind_add(bs, s->trees[i], false, RO_ATTRS, 0)) < 0)
                        return r;
        for (size_t i = 0; i < ELEMENTSOF(top_links); i++) {
                char p[64];
                struct stat st;
                snprintf(p, sizeof p, "/%s", top_links[i]);
                if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode) && (r = bind_add(bs, p, false, RO_ATTRS, 0)) < 0)
                        return r;
        }
        for (size_t i = 0; i < ELEMENTSOF(etc_allowed); i++) {
                glob_t g;
                if (glob(etc_allowed[i], GLOB_NOSORT, NULL, &g) != 0)
                        continue;
                for (size_t k = 0; k < g.gl_pathc && r >= 0; k++)
                        r = etc_add(bs, g.gl_pathv[k]);
                globfree(&g);
                if (r < 0)
                        return r;
        }
        /* The root's own tmpfs is nodev, and so is the service's view
         * these come from: a device node needs dev on its own mount. */
        for (size_t i = 0; root_devices[i]; i++)
                if ((r = bind_add(bs, root_devices[i], false, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NODEV)) < 0)
                        return r;
        return bind_add(bs, s->jail_dir, false, JAIL_DIR_ATTRS, 0);
}

/* mkdir -p of rel (no leading '/') beneath dfd; the last component a
 * directory, or an empty file when leaf_file. */
static int make_path_at(int dfd, const char *rel, bool leaf_file) {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s", rel);
        for (char *s = p;; s++) {
                if (*s != '/' && *s != '\0')
                        continue;
                char c = *s;
                *s = '\0';
                if (c == '\0' && leaf_file) {
                        int fd = openat(dfd, p, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
                        if (fd < 0)
                                return negative_errno();
                        close(fd);
                        return 0;
                }
                if (mkdirat(dfd, p, 0755) < 0 && errno != EEXIST)
                        return negative_errno();
                if (c == '\0')
                        return 0;
                *s = c;
        }
}

static int attach(int rootfd, const struct bind *b) {
        const char *rel = b->target + strspn(b->target, "/");
        int r = make_path_at(rootfd, rel, !b->is_dir);
        if (r < 0)
                return r;
        if (syscall(SYS_move_mount, b->fd, "", rootfd, rel, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return negative_errno();
        return 0;
}

/* Locally installed software, and whatever was planted there, is not
 * the interpreter's: an empty tmpfs covers /usr/local (trees that live
 * beneath it are attached on top of it, then it turns read-only). */
static int cover_usr_local(int rootfd, bool *covered) {
        struct stat st;
        if (fstatat(rootfd, "usr/local", &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
                return 0;
        if (mount("tmpfs", NEW_ROOT "/usr/local", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  "mode=0755,size=64k,nr_inodes=64") < 0)
                return negative_errno();
        *covered = true;
        return 0;
}

/* Step 3 (before the pivot). */
static int assemble(int rootfd, const struct binds *bs, const char **step) {
        bool covered = false;
        int r;
        *step = "root-links";
        for (size_t i = 0; i < ELEMENTSOF(top_links); i++) {
                char p[64], target[PATH_MAX];
                snprintf(p, sizeof p, "/%s", top_links[i]);
                ssize_t n = readlink(p, target, sizeof target - 1);
                if (n < 0)
                        continue; /* absent, or a directory (bound below) */
                target[n] = '\0';
                if (symlinkat(target, rootfd, top_links[i]) < 0)
                        return negative_errno();
        }
        *step = "root-stand-ins";
        for (size_t i = 0; i < ELEMENTSOF(stand_in_files); i++)
                if ((r = make_path_at(rootfd, stand_in_files[i], true)) < 0)
                        return r;
        for (size_t i = 0; i < ELEMENTSOF(stand_in_dirs); i++)
                if ((r = make_path_at(rootfd, stand_in_dirs[i], false)) < 0)
                        return r;
        /* /proc/1 of the root's own tmpfs, for proc_cover_init() */
        if ((r = make_path_at(rootfd, INIT_STAND_IN, true)) < 0)
                return r;
        *step = "root-etc-links";
        for (size_t i = 0; i < bs->n_links; i++) {
                const char *rel = bs->l[i].path + strspn(bs->l[i].path, "/");
                char dir[sizeof bs->l[i].path];
                snprintf(dir, sizeof dir, "%s", rel);
                *strrchr(dir, '/') = '\0';
                if ((r = make_path_at(rootfd, dir, false)) < 0)
                        return r;
                if (symlinkat(bs->l[i].target, rootfd, rel) < 0)
                        return negative_errno();
        }
        /* /tmp, the jail dir's parent: a tmpfs of its own that stays
         * writable for its owner (the service) only, so that creating
         * anything there fails with EACCES (DAC, Landlock, AppArmor), as
         * codejail-service(7) "What the jail allows and denies" says for
         * bind("/tmp/x"), not with EROFS. */
        *step = "root-tmp";
        if ((r = make_path_at(rootfd, "tmp", false)) < 0)
                return r;
        if (mount("tmpfs", NEW_ROOT "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=64k,nr_inodes=64") < 0)
                return negative_errno();
        /* In lexical order every parent comes before its children. */
        for (size_t i = 0; i < bs->n; i++) {
                *step = "root-bind";
                if ((r = attach(rootfd, &bs->b[i])) < 0)
                        return r;
                *step = "root-usr-local";
                if (strcmp(bs->b[i].target, "/usr") == 0 && (r = cover_usr_local(rootfd, &covered)) < 0)
                        return r;
        }
        if (covered && mount(NULL, NEW_ROOT "/usr/local", NULL,
                             MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                return negative_errno();
        return 0;
}

static int cmp_bind(const void *a, const void *b) {
        return strcmp(((const struct bind *)a)->target, ((const struct bind *)b)->target);
}

/* The init (our code, PID 1, the service's user) is nobody's business:
 * its descriptors (stat() of /proc/1/fd counts them), threads, namespaces
 * and start are covered by the root's stand-in /proc/1, read-only, taken
 * before the procfs hides it. The init itself only ever reads the
 * program's entries. */
static int proc_cover_init(int stand_in, const char **step) {
        *step = "proc-cover-init";
        int r = set_attr(stand_in, RO_ATTRS | MOUNT_ATTR_NOEXEC, 0, false);
        if (r < 0)
                return r;
        if (syscall(SYS_move_mount, stand_in, "", AT_FDCWD, "/proc/1", MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return negative_errno();
        return 0;
}

/* Step 5: the mounts that belong at their final paths; cover_init: in the
 * new root, which holds the stand-in /proc/1. */
static int mount_proc_and_tmp(const struct root_spec *s, bool cover_init, const char **step) {
        _cleanup_close_ int stand_in = -1;
        *step = "proc-stand-in";
        if (cover_init &&
            (stand_in = (int)syscall(SYS_open_tree, AT_FDCWD, "/proc/1", OPEN_TREE_CLONE | O_CLOEXEC)) < 0)
                return negative_errno();
        *step = "mount-proc";
        /* The new PID namespace's own procfs, processes only. */
        if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "subset=pid") < 0)
                return negative_errno();
        int r;
        if (cover_init && (r = proc_cover_init(stand_in, step)) < 0)
                return r;

        return s->defer_tmp ? 0 : root_mount_tmp(s, step);
}

int root_mount_tmp(const struct root_spec *s, const char **step) {
        char opts[160], tmp[PATH_MAX];

        *step = "mount-tmp";
        snprintf(tmp, sizeof tmp, "%s/tmp", s->jail_dir);
        /* TMPFS caps the total; nr_inodes caps kernel memory spent on empty files. */
        snprintf(opts, sizeof opts, "size=%llu,nr_inodes=%llu,mode=0700,uid=%u,gid=%u",
                 (unsigned long long)s->tmpfs_bytes,
                 (unsigned long long)(s->tmpfs_bytes / 4096 < 1024 ? 1024 : s->tmpfs_bytes / 4096), s->uid, s->gid);
        if (mount("tmpfs", tmp, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) < 0)
                return negative_errno();
        return 0;
}

static int build(const struct root_spec *s, const char **step) {
        struct binds bs = { .n = 0 };
        _cleanup_close_ int rootfd = -1;
        int r;

        /* 1. */
        *step = "mount-private";
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return negative_errno();
        /* 2. */
        *step = "root-collect";
        if ((r = collect(s, &bs)) < 0)
                goto out;
        qsort(bs.b, bs.n, sizeof bs.b[0], cmp_bind);

        /* 3. */
        *step = "root-tmpfs";
        if (mount("tmpfs", NEW_ROOT, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k,nr_inodes=128") < 0) {
                r = negative_errno();
                goto out;
        }
        if ((rootfd = open(NEW_ROOT, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
                r = negative_errno();
                goto out;
        }
        if ((r = assemble(rootfd, &bs, step)) < 0)
                goto out;
        binds_close(&bs);

        /* 4. pivot_root(".", "."): the old root ends up stacked on the new
         * one, and is detached at once (pivot_root(2)). */
        *step = "pivot-root";
        if (fchdir(rootfd) < 0 || syscall(SYS_pivot_root, ".", ".") < 0)
                return negative_errno();
        *step = "root-detach-old";
        if (umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
                return negative_errno();

        /* 5. */
        if ((r = mount_proc_and_tmp(s, true, step)) < 0)
                return r;

        /* 6. */
        *step = "root-readonly";
        if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
                return negative_errno();
        return 0;
out:
        binds_close(&bs);
        return r;
}

/* The directories and stand-ins made in the new root get their modes from
 * the code, not from the umask the service runs with (the unit's UMask=0077
 * would leave /etc and /dev untraversable by the sandbox UID: libblas.so.3,
 * reached through /etc/alternatives, not found). */
int root_build(const struct root_spec *s, const char **step) {
        mode_t saved = umask(0022);
        int r = build(s, step);
        umask(saved);
        return r;
}

int root_build_on_host(const struct root_spec *s, const char **step) {
        *step = "mount-private";
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return negative_errno();
        *step = "mount-jaildir";
        if (mount(s->jail_dir, s->jail_dir, NULL, MS_BIND, NULL) < 0 ||
            mount(NULL, s->jail_dir, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                return negative_errno();
        return mount_proc_and_tmp(s, false, step);
}

/* <prefix> of <prefix>/bin/python3: the path two levels up. */
static void prefix_of(char *path) {
        for (int up = 0; up < 2; up++) {
                char *sl = strrchr(path, '/');
                if (sl && sl != path)
                        *sl = '\0';
        }
}

/* A virtualenv's base interpreter, from the "home = <dir of python3>" line
 * of its pyvenv.cfg (next to bin/, or in it), into out; false if none. */
static bool venv_home(const char *python_bin, char *out, size_t size) {
        for (int k = 0; k < 2; k++) {
                char cfg[4096];
                snprintf(cfg, sizeof cfg, "%s", python_bin);
                char *sl = strrchr(cfg, '/');
                if (!sl)
                        return false;
                *sl = '\0';
                if (k == 0 && (sl = strrchr(cfg, '/')))
                        *sl = '\0';
                strncat(cfg, "/pyvenv.cfg", sizeof cfg - strlen(cfg) - 1);
                FILE *f = fopen(cfg, "re");
                if (!f)
                        continue;
                char line[4096];
                bool found = false;
                while (!found && fgets(line, sizeof line, f)) {
                        char *v = line + strspn(line, " \t");
                        if (strncmp(v, "home", 4) != 0)
                                continue;
                        v += 4 + strspn(v + 4, " \t");
                        if (*v++ != '=')
                                continue;
                        v += strspn(v, " \t");
                        v[strcspn(v, "\r\n")] = '\0';
                        /* home names the directory of python3: its prefix is one up */
                        snprintf(out, size, "%s/python3", v);
                        found = v[0] == '/';
                }
                fclose(f);
                if (found)
                        return true;
        }
        return false;
}

void root_python_trees(const char *python_bin, char buf[3][4096], const char *out[4]) {
        size_t n = 0;
        /* /usr always: the loader, libc and every library the interpreter
         * links live there on a merged-/usr system. */
        out[n++] = "/usr";
        /* <prefix> of the configured path (a virtualenv), of where its links
         * lead, and of the base interpreter its pyvenv.cfg names (a
         * virtualenv made with --copies has no link to follow). */
        snprintf(buf[0], 4096, "%s", python_bin);
        if (!realpath(python_bin, buf[1]))
                snprintf(buf[1], 4096, "%s", python_bin);
        if (!venv_home(python_bin, buf[2], 4096))
                snprintf(buf[2], 4096, "%s", python_bin);
        for (int k = 0; k < 3; k++) {
                prefix_of(buf[k]);
                const char *t = buf[k];
                bool under_usr = strncmp(t, "/usr", 4) == 0 && (t[4] == '/' || t[4] == '\0');
                bool under_local = strncmp(t, "/usr/local", 10) == 0 && (t[10] == '/' || t[10] == '\0');
                bool dup = false;
                for (int i = 0; i < k; i++)
                        dup |= strcmp(t, buf[i]) == 0;
                if ((under_usr && !under_local) || dup)
                        continue;
                out[n++] = t;
        }
        out[n] = NULL;
}
