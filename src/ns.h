/* SPDX-License-Identifier: Apache-2.0 */
/* Namespaces: the jail's clone flags, the serving process's own views. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* clone() flags of a jail: new PID, mount, network, IPC and UTS namespaces
 * (network: unless the serving process already has a private one of its
 * own, see jail_isolate_self_network()). */
#define NS_JAIL_FLAGS (CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)

/* The serving process's own filesystem view (see ns.c). hide_pids: its
 * procfs shows only its own processes (false only in a sabotage build
 * whose init must find the orphans it adopted). */
int ns_private_filesystem(const char *writable_dir, uint64_t tmp_bytes, bool hide_pids, const char **step);

/* What an execution sees of the host's identity (README "What the jail
 * allows and denies"): a fixed host name, and the NIS domain name the
 * kernel reports when none is set. Upstream's jailed code sees the host's;
 * here no execution learns which host it runs on. */
#define NS_HOSTNAME "codejail"
#define NS_DOMAINNAME "(none)"

/* Give the calling process's UTS namespace -- a fresh one of its own, never
 * the host's -- NS_HOSTNAME and NS_DOMAINNAME, and verify them. */
int ns_set_identity(void);

/* Move the calling process into a fresh network namespace (only a down
 * loopback); verify it has no non-loopback interface. */
int ns_isolate_network(void);

/* The inode of the calling process's namespace of that type ("uts",
 * "ipc", "net", ...), or 0. */
unsigned long long ns_inode(const char *type);

/* True when the calling process sees no interface but loopback and no
 * route; detail describes what it found. */
bool ns_network_is_private(char *detail, size_t len);
