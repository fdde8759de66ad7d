/* SPDX-License-Identifier: Apache-2.0 */
#pragma once
#include "conf.h"
/* setrlimit for CPU (soft, hard=soft+1), FSIZE, NPROC, CORE=0.
 * Returns 0 or -errno; *failed names the limit that failed. */
int rlimit_apply(const struct limits *l, const char **failed);
/* RLIMIT_AS (VMEM), separately: the jail sets it just before execve, after
 * the last step that allocates. Returns 0 or -errno. */
int rlimit_apply_vmem(const struct limits *l);
