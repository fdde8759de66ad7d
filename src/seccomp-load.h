/* SPDX-License-Identifier: Apache-2.0 */
/* Loading the seccomp filters codejaild ships as BPF (generated at build
 * time from seccomp-filter.c by seccomp-gen.c). Both callers have set
 * no_new_privs already. */
#pragma once
#include <stdbool.h>

/* The serving process's filters: the allow-list and the deny list with its
 * argument rules, stacked. 0 or -errno. */
int seccomp_load_service(void);

/* The jail's filter, in the child right before execve. With exec_notify
 * (always but in the sabotage build) execve/execveat go to a user
 * notification listener: returns its fd; otherwise 0; or -errno. */
int seccomp_load_jail(bool exec_notify);

/* The unprivileged side's allow-list (privsep.c), stacked on the service's
 * filters. 0 or -errno. */
int seccomp_load_privsep(void);
