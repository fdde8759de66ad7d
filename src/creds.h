/* SPDX-License-Identifier: Apache-2.0 */
/* Identity and privileges of the jailed child. */
#pragma once
#include <sys/types.h>

/* The calling thread's capability sets as 64-bit masks. The bounding and
 * ambient sets are always read (prctl); effective, permitted and
 * inheritable only when capget works: on failure -errno, and those three
 * keep what the caller put there (its fail-closed or -open default). */
struct cap_sets {
        unsigned long long effective, permitted, inheritable, bounding, ambient;
};
int creds_read_caps(struct cap_sets *c);

/* Empty the capability bounding set (needs CAP_SETPCAP; done while still
 * privileged) and clear the ambient set. */
int creds_drop_bounding(void);
/* The same, keeping the capabilities in keep (a mask of 1 << CAP_*): the
 * serving process's own cut to the jail's four (harden.c). */
int creds_drop_bounding_except(unsigned long long keep);

/* setgroups(0) -> setresgid -> setresuid, each verified by reading back;
 * then every capability set emptied and verified empty. */
int creds_become(uid_t uid, gid_t gid, const char **step);

/* PR_SET_NO_NEW_PRIVS, verified. */
int creds_no_new_privs(void);

/* Every capability set (effective, permitted, inheritable) emptied and
 * read back empty. */
int creds_drop_all_caps(void);

/* Securebits locked so that uid 0 means nothing to capabilities any more
 * (SECBIT_NOROOT, NO_SETUID_FIXUP, NO_CAP_AMBIENT_RAISE, KEEP_CAPS off,
 * each locked). Needs CAP_SETPCAP: done before the capability drop. */
int creds_lock_securebits(void);
