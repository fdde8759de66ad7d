/* Python repr() of bytes and of JSON values, for emsg and schema reasons. */
#pragma once

#include <jansson.h>
#include <stddef.h>

/* repr(b'...') exactly as CPython prints it. Returns malloc'd string. */
char *pyrepr_bytes(const void *buf, size_t len);

/* repr() of the Python object json.loads would build for v
 * (None/True/False, ints, float repr incl. nan/inf, 'str', [..], {..}). */
char *pyrepr_value(const json_t *v);
