/* SPDX-License-Identifier: Apache-2.0 */
/* The serving process's own namespaces: its filesystem view, network
 * isolation, the identity its UTS namespace shows. (The jail's filesystem
 * is root.c.) */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "macro.h"
#include "ns.h"

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif

bool ns_network_is_private(char *detail, size_t len) {
        /* From /proc/self/net only: no netlink socket, which the service's
         * own seccomp filter refuses. */
        bool ok = true;
        char line[512];
        FILE *f = fopen("/proc/self/net/dev", "re");
        if (!f) {
                snprintf(detail, len, "/proc/self/net/dev: %s", strerror(errno));
                return false;
        }
        snprintf(detail, len, "only loopback");
        for (int n = 0; fgets(line, sizeof line, f); n++) {
                char *colon = strchr(line, ':'), *name = line;
                if (n < 2 || !colon)
                        continue; /* two header lines */
                *colon = '\0';
                name += strspn(name, " ");
                if (strcmp(name, "lo") != 0) {
                        snprintf(detail, len, "non-loopback interface %.64s", name);
                        ok = false;
                        break;
                }
        }
        fclose(f);
        if (!ok)
                return false;

        /* Routes: any route through anything but lo means egress. */
        f = fopen("/proc/self/net/route", "re");
        if (f) {
                for (int n = 0; fgets(line, sizeof line, f); n++)
                        if (n > 0 && strncmp(line, "lo\t", 3) != 0) {
                                snprintf(detail, len, "route: %.100s", line);
                                ok = false;
                        }
                fclose(f);
        }
        f = fopen("/proc/self/net/ipv6_route", "re");
        if (f) {
                while (fgets(line, sizeof line, f)) {
                        line[strcspn(line, "\n")] = '\0';
                        const char *dev = strrchr(line, ' ');
                        if (dev && strcmp(dev + 1, "lo") != 0) {
                                snprintf(detail, len, "ipv6 route via %.32s", dev + 1);
                                ok = false;
                        }
                }
                fclose(f);
        }
        return ok;
}

/* mkdir -p (directories that exist are fine; the last errno is kept). */
static int mkdir_parents(const char *path) {
        char p[4096];
        int r = 0;
        snprintf(p, sizeof p, "%s", path);
        for (char *s = p + 1;; s++) {
                if (*s != '/' && *s != '\0')
                        continue;
                char c = *s;
                *s = '\0';
                r = mkdir(p, 0755);
                if (r < 0 && errno != EEXIST)
                        return -1;
                if (!(*s = c))
                        break;
        }
        return r;
}

/* The serving process's own view of the filesystem (what systemd's
 * ProtectSystem=strict, PrivateTmp= and ProtectHome= would give it, for a
 * fraction of their per-connection cost): a private mount namespace whose
 * mounts never propagate back, everything read-only but writable_dir,
 * an empty tmpfs of its own on /tmp (jail directories live there and vanish
 * with the instance), empty read-only tmpfs over /home and /root. */
int ns_private_filesystem(const char *writable_dir, uint64_t tmp_bytes, bool hide_pids, const char **step) {
        struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV };
        char opts[96];

        *step = "unshare-mount";
        if (unshare(CLONE_NEWNS) < 0)
                return negative_errno();
        *step = "mount-private";
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return negative_errno();
        *step = "state-dir";
        /* A state dir that cannot be made or found is not this step's
         * failure: health stays unavailable and the jail set-up names it. */
        char real[PATH_MAX], link[PATH_MAX];
        _cleanup_close_ int sfd = -1;
        if ((mkdir(writable_dir, 0755) == 0 || errno == EEXIST) && realpath(writable_dir, real)) {
                /* Its real path: with DynamicUser= systemd makes the runtime
                 * dir a symlink into /run/private, and move_mount() never
                 * follows one. A writable copy, taken before everything
                 * turns read-only and before /tmp is covered. */
                snprintf(link, sizeof link, "%s", writable_dir);
                writable_dir = real;
                sfd = (int)syscall(SYS_open_tree, AT_FDCWD, writable_dir, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
                if (sfd < 0)
                        return negative_errno();
        }
        *step = "read-only";
        /* nodev as well: the service opens no device. */
        if (syscall(SYS_mount_setattr, AT_FDCWD, "/", AT_RECURSIVE, &ro, sizeof ro) < 0)
                return negative_errno();
        *step = "private-tmp";
        snprintf(opts, sizeof opts, "mode=1777,size=%llu,nr_inodes=4096", (unsigned long long)tmp_bytes);
        if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) < 0)
                return negative_errno();
        *step = "state-dir-rw";
        if (sfd >= 0) {
                if (mkdir_parents(writable_dir) < 0 && errno != EEXIST)
                        return negative_errno();
                if (syscall(SYS_move_mount, sfd, "", AT_FDCWD, writable_dir, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                        return negative_errno();
                /* A configured path that was a link under /tmp: the same
                 * link in the new /tmp (anywhere else it is still there). */
                if (strcmp(link, real) != 0 && strncmp(link, "/tmp/", 5) == 0 && access(link, F_OK) < 0) {
                        char *slash = strrchr(link, '/');
                        *slash = '\0';
                        if (mkdir_parents(link) < 0 && errno != EEXIST)
                                return negative_errno();
                        *slash = '/';
                        if (symlink(real, link) < 0)
                                return negative_errno();
                }
        }
        *step = "protect-home";
        static const char *const hidden[] = { "/home", "/root" };
        for (size_t i = 0; i < ELEMENTSOF(hidden); i++) {
                struct stat st;
                if (stat(hidden[i], &st) < 0 || !S_ISDIR(st.st_mode))
                        continue;
                if (mount("tmpfs", hidden[i], "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY,
                          "mode=0755,size=4k,nr_inodes=8") < 0)
                        return negative_errno();
        }
        /* ProtectProc=invisible, ProcSubset=pid: a procfs of its own that
         * shows no process it could not ptrace and nothing but the
         * per-process directories (no /proc/sys, kcore, sysrq-trigger...).
         * gid= names the group exempt from hidepid; its default, 0, would
         * exempt a service running as root (tests, plain units): a group
         * no one has instead. */
        *step = "private-proc";
        if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  hide_pids ? "hidepid=invisible,gid=4294967294,subset=pid" : "subset=pid") < 0)
                return negative_errno();
        return 0;
}

unsigned long long ns_inode(const char *type) {
        char path[64];
        struct stat st;
        snprintf(path, sizeof path, "/proc/self/ns/%s", type);
        return stat(path, &st) == 0 ? (unsigned long long)st.st_ino : 0;
}

int ns_set_identity(void) {
        struct utsname u;
        /* Only what differs is set (the domain name of most hosts is the
         * kernel's "(none)" already; valgrind does not know setdomainname),
         * and what results is verified either way. */
        if (uname(&u) < 0)
                return negative_errno();
        if (strcmp(u.nodename, NS_HOSTNAME) != 0 && sethostname(NS_HOSTNAME, strlen(NS_HOSTNAME)) < 0)
                return negative_errno();
        if (strcmp(u.domainname, NS_DOMAINNAME) != 0 && setdomainname(NS_DOMAINNAME, strlen(NS_DOMAINNAME)) < 0)
                return negative_errno();
        if (uname(&u) < 0)
                return negative_errno();
        if (strcmp(u.nodename, NS_HOSTNAME) != 0 || strcmp(u.domainname, NS_DOMAINNAME) != 0)
                return -EIO;
        return 0;
}

int ns_isolate_network(void) {
        if (unshare(CLONE_NEWNET) < 0)
                return negative_errno();
        return 0;
}
