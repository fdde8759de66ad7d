/* SPDX-License-Identifier: Apache-2.0 */
/* Logging: journald when its socket exists, else one line on stderr.
 * The only place that formats log output. */
#pragma once

#include <stdarg.h>
#include <stdint.h>
#include "macro.h"

enum { LOG_LEVEL_ERR = 3, LOG_LEVEL_WARNING = 4, LOG_LEVEL_NOTICE = 5, LOG_LEVEL_INFO = 6, LOG_LEVEL_DEBUG = 7 };

/* Plain message with priority (syslog levels). */
void log_msg(int prio, const char *fmt, ...) _printf_(2, 3);
#define log_error(...) log_msg(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)

/* Structured entry: MESSAGE plus "KEY=value" fields (already formatted by
 * the caller with log_field()). n may be 0. */
struct log_field {
        const char *key;   /* e.g. "CODEJAIL_STATUS" */
        char value[160];
};
void log_fieldf(struct log_field *f, const char *key, const char *fmt, ...) _printf_(3, 4);
void log_struct(int prio, const struct log_field *fields, size_t n, const char *fmt, ...) _printf_(4, 5);

/* Force the stderr fallback (tests) or journald; default: auto-detect. */
void log_set_target_stderr(int yes);

/* Decide the target now and, for journald, connect its socket: for a
 * process that may not create sockets or look at paths later (privsep.c). */
void log_prepare(void);
