/* SPDX-License-Identifier: Apache-2.0 */
/* The execution's filesystem: a fresh root built from an allow list. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct root_spec {
        const char *jail_dir;           /* /tmp/codejail-XXXXXXXX, bound read-only */
        const char *const *trees;       /* the interpreter's trees, NULL-terminated */
        uint64_t tmpfs_bytes;           /* size of the jail's tmp/ */
        bool defer_tmp;                 /* tmp/ later, by root_mount_tmp() */
        uid_t uid;                      /* owner of tmp/ */
        gid_t gid;
};

/* Run by the jail's init inside its fresh mount namespace, before any
 * untrusted code exists: pivot_root into an empty tmpfs holding only what
 * root.c lists, read-only; tmp/ and a procfs of the new PID namespace.
 * Afterwards no path leads to anything else of the host. *step names what
 * failed. */
int root_build(const struct root_spec *spec, const char **step);

/* The same without the new root (sabotage build only: the host's tree
 * stays in view, only tmp/, /proc and the read-only jail dir are set up). */
int root_build_on_host(const struct root_spec *spec, const char **step);

/* The jail's tmp/ (a tmpfs of spec->tmpfs_bytes owned by spec->uid), when
 * the root was built with defer_tmp: its size is the request's, which the
 * init learns only once the root stands (jail.c, the preparation). */
int root_mount_tmp(const struct root_spec *spec, const char **step);

/* Device nodes present in every root (NULL-terminated): what Landlock and
 * AppArmor must allow on them is decided next to their rules. */
extern const char *const root_devices[];

/* The interpreter's trees for python_bin, NULL-terminated in out[]: /usr,
 * and the <prefix> (of <prefix>/bin/python3) of python_bin, of the file it
 * resolves to and of the base interpreter a virtualenv's pyvenv.cfg names
 * (its "home"), each unless /usr already holds it (/usr/local does not:
 * it is covered in the jail). Strings live in buf. */
void root_python_trees(const char *python_bin, char buf[3][4096], const char *out[4]);
