/* seccomp: a supplement to the other layers, not the boundary by itself. */
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

/* Load in the child; returns the notification fd (or 0 when exec_notify
 * was false) or -errno. */
int seccomp_filter_load(scmp_filter_ctx ctx, bool exec_notify);

/* The serving process's own filter (see seccomp-filter.c). */
int seccomp_service_filter_new(scmp_filter_ctx *ret);

/* The deny list, for tests: NULL-terminated syscall names. */
extern const char *const seccomp_denied_syscalls[];
