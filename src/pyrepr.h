/* SPDX-License-Identifier: Apache-2.0 */
/* Python repr() of bytes and of JSON values, for emsg and schema reasons. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* repr(b'...') exactly as CPython prints it. Returns malloc'd string. */
char *pyrepr_bytes(const void *buf, size_t len);

/* repr() of the Python object json.loads would build for v
 * (None/True/False, ints, float repr incl. nan/inf, 'str', [..], {..}).
 * Returns malloc'd string, NULL on ENOMEM or a tree nested absurdly deep. */
char *pyrepr_value(const json_t *v);

/* Same, but stops after max_len bytes (never splitting a UTF-8 sequence)
 * and sets *truncated (if non-NULL) when it did: repr of a 32 MiB value
 * only to quote its start in an error message would be wasteful. */
char *pyrepr_value_max(const json_t *v, size_t max_len, bool *truncated);
