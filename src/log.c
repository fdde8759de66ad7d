/* SPDX-License-Identifier: Apache-2.0 */
/* journald with a stderr fallback; the only place that formats logs. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"
#include "sdproto.h"

#define IDENT "codejail"

static int target = -1; /* -1 auto, 0 journald, 1 stderr */
static int journal_fd = -1; /* connected by log_prepare(), or -1: per message */

void log_set_target_stderr(int yes) { target = yes ? 1 : 0; }

static int use_stderr(void) {
        if (target < 0)
                target = sdproto_journal_available() ? 0 : 1;
        return target;
}

void log_prepare(void) {
        if (use_stderr() || journal_fd >= 0)
                return;
        int fd = sdproto_journal_connect();
        if (fd < 0)
                target = 1;
        else
                journal_fd = fd;
}

void log_fieldf(struct log_field *f, const char *key, const char *fmt, ...) {
        va_list ap;
        f->key = key;
        va_start(ap, fmt);
        vsnprintf(f->value, sizeof f->value, fmt, ap);
        va_end(ap);
}

static void log_emit(int prio, const struct log_field *fields, size_t n, const char *msg) {
        if (use_stderr()) {
                /* One line: message, then the fields, so a test can grep it. */
                char line[4096];
                size_t off = (size_t)snprintf(line, sizeof line, "%s: %s", IDENT, msg);
                for (size_t i = 0; i < n && off < sizeof line; i++)
                        off += (size_t)snprintf(line + off, sizeof line - off, " %s=%s", fields[i].key,
                                                fields[i].value);
                if (off >= sizeof line)
                        off = sizeof line - 1;
                line[off] = '\0';
                fprintf(stderr, "%s\n", line);
                return;
        }

        /* MESSAGE, PRIORITY, SYSLOG_IDENTIFIER + fields. */
        struct iovec iov[3 + 32];
        char bufs[3 + 32][512];
        size_t k = 0;
        snprintf(bufs[k], sizeof bufs[k], "MESSAGE=%s", msg);
        iov[k].iov_base = bufs[k], iov[k].iov_len = strlen(bufs[k]), k++;
        snprintf(bufs[k], sizeof bufs[k], "PRIORITY=%d", prio);
        iov[k].iov_base = bufs[k], iov[k].iov_len = strlen(bufs[k]), k++;
        snprintf(bufs[k], sizeof bufs[k], "SYSLOG_IDENTIFIER=%s", IDENT);
        iov[k].iov_base = bufs[k], iov[k].iov_len = strlen(bufs[k]), k++;
        for (size_t i = 0; i < n && k < ELEMENTSOF(iov); i++) {
                snprintf(bufs[k], sizeof bufs[k], "%s=%s", fields[i].key, fields[i].value);
                iov[k].iov_base = bufs[k], iov[k].iov_len = strlen(bufs[k]), k++;
        }
        int r = journal_fd >= 0 ? sdproto_journal_sendv_fd(journal_fd, iov, k) : sdproto_journal_sendv(iov, k);
        if (r < 0) {
                target = 1;
                log_emit(prio, fields, n, msg);
        }
}

void log_struct(int prio, const struct log_field *fields, size_t n, const char *fmt, ...) {
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        log_emit(prio, fields, n, msg);
}

void log_msg(int prio, const char *fmt, ...) {
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        log_emit(prio, NULL, 0, msg);
}
