#pragma once
#include "conf.h"
/* setrlimit for CPU (soft, hard=soft+1), AS, FSIZE, NPROC, CORE=0.
 * Returns 0 or -errno; *failed names the limit that failed. */
int rlimit_apply(const struct limits *l, const char **failed);
