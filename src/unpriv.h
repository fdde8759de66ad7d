/* SPDX-License-Identifier: Apache-2.0 */
/* The unprivileged side of an instance: the process that reads the
 * client's bytes, forked and confined here. Below privsep.c (which runs the
 * split) and health.c (whose probes are forked and confined exactly so). */
#pragma once

#include <sys/types.h>

/* The unprivileged side's confinement, each step checked, in order:
 * parent-death signal, not dumpable, bounding set and ambient set emptied
 * (while CAP_SETPCAP is held), securebits locked, every capability set
 * emptied, no_new_privs, a Landlock domain that grants nothing (when the
 * kernel has Landlock), its own seccomp allow-list. 0 or -errno with *step.
 * Switched off only in the sabotage build (layer privsep). */
int unpriv_drop(pid_t parent, const char **step);

/* socketpair + fork: in the child returns 0 with *fd its end; in the
 * parent the child's pid with *fd the parent's end; or -errno. In the
 * child, *parent_cpu_us (optional) is the CPU this process had used until
 * the fork. */
pid_t unpriv_fork(int *fd, long long *parent_cpu_us);
