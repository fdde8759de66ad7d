/* SPDX-License-Identifier: Apache-2.0 */
/* Identity and privileges of the jailed child. */
#pragma once
#include <sys/types.h>

/* Empty the capability bounding set (needs CAP_SETPCAP; done while still
 * privileged) and clear the ambient set. */
int creds_drop_bounding(void);

/* setgroups(0) -> setresgid -> setresuid, each verified by reading back;
 * then every capability set emptied and verified empty. */
int creds_become(uid_t uid, gid_t gid, const char **step);

/* PR_SET_NO_NEW_PRIVS, verified. */
int creds_no_new_privs(void);
