/* SPDX-License-Identifier: Apache-2.0 */
/* seccomp rules (libseccomp), compiled to BPF at build time by
 * seccomp-gen.c; codejaild itself loads the result (seccomp-load.h). A
 * supplement to the other layers, not the boundary by itself. */
#pragma once
#include <seccomp.h>
#include <stdbool.h>

/* Build the jail filter (in the parent, before fork):
 *  - socket()/socketpair() for any family but AF_UNIX -> EACCES;
 *  - execve/execveat -> user notification (the supervisor allows exactly
 *    the interpreter launch, answers EACCES to every later one); with
 *    exec_notify false (sabotage build only) they are allowed;
 *  - a deny list of kernel attack surface -> EPERM;
 *  - foreign architectures kill the process. */
int seccomp_filter_new(bool exec_notify, scmp_filter_ctx *ret);

/* The serving process's own filters (see seccomp-filter.c): a deny list
 * with argument rules, and an allow-list stacked with it. */
int seccomp_service_filter_new(scmp_filter_ctx *ret);
int seccomp_allow_filter_new(scmp_filter_ctx *ret);

/* The unprivileged side's allow-list (privsep.c): I/O on the fds it holds,
 * memory, time, signals for itself; no open, socket, mount, clone, execve,
 * setuid or ptrace. Everything else EPERM. */
int seccomp_privsep_filter_new(scmp_filter_ctx *ret);

/* The deny list, for tests: NULL-terminated syscall names. */
extern const char *const seccomp_denied_syscalls[];
