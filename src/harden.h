/* SPDX-License-Identifier: Apache-2.0 */
/* What the serving process does to itself before it reads a byte of the
 * request (and the selfcheck does to itself, then probes). In-process
 * hardening is invisible to systemd-analyze: every measure here has a
 * selfcheck probe that attempts the forbidden action (health.c), and the
 * selfcheck suite switches each off (sabotage build) to see it fail. */
#pragma once

#include "conf.h"

/* In order: a private network namespace (no egress), private UTS and IPC
 * namespaces (shared with its one execution, like the network one), a
 * private mount namespace with everything read-only but the state dir, its
 * own /tmp, /home and /root hidden, and a procfs that shows only its own
 * processes and no /proc/sys (ns_private_filesystem), not dumpable (no
 * ptrace or core of the service by its own uid -- every instance runs as
 * the one service user), capabilities cut to what the jail set-up needs
 * (CAP_SYS_ADMIN, CAP_SETUID, CAP_SETGID, CAP_SETPCAP) in every set
 * including the bounding set, no_new_privs, and the service seccomp filter.
 * Returns 0 or -errno; *step names the measure that failed. */
int harden_self(const struct config *cfg, const char **step);

/* The capabilities the service keeps (bit mask of CAP_*). */
unsigned long long harden_kept_caps(void);
