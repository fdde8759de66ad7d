/* SPDX-License-Identifier: Apache-2.0 */
/* The parsers' one way to say why: a message into the caller's buffer and
 * the error code to return, in one expression (return errbuf(-EINVAL, ...)). */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "macro.h"

_printf_(4, 5) static inline int errbuf(int r, char *err, size_t errlen, const char *fmt, ...) {
        if (err && errlen > 0) {
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(err, errlen, fmt, ap);
                va_end(ap);
        }
        return r;
}
