/* SPDX-License-Identifier: Apache-2.0 */
/* AppArmor: the sandbox profile for every execution where the kernel has it. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* True when AppArmor is an active LSM of the running kernel. */
bool apparmor_present(void);

/* True when the calling process runs under an AppArmor profile (not
 * unconfined): under no_new_privs it may then only stack the sandbox
 * profile on its own, not change into it. */
bool apparmor_self_confined(void);

/* Enter profile at the next execve: aa_stack_onexec when stack (the caller
 * is confined), else aa_change_onexec. -errno on failure. */
int apparmor_change_onexec(const char *profile, bool stack);

/* The label a task (0: the caller) runs under, as the kernel reports it
 * in /proc/PID/attr/current, e.g. "codejail-service//&codejail-sandbox
 * (enforce)" or "unconfined". -errno when unreadable. */
int apparmor_label_of(pid_t pid, char *buf, size_t size);
