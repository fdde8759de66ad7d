/* SPDX-License-Identifier: Apache-2.0 */
/* codejail-auth.so: the JWT verifier (auth.c, with nettle, hogweed and
 * GMP) as a plugin. Built with hidden visibility: this table is its one
 * exported symbol. */
#include "auth.h"

__attribute__((visibility("default"))) extern const struct auth_ops codejail_auth_ops;
const struct auth_ops codejail_auth_ops = {
        .abi = AUTH_OPS_ABI,
        .version = PACKAGE_VERSION,
        .keys_parse = auth_keys_parse,
        .keys_free = auth_keys_free,
        .keys_count = auth_keys_count,
        .check = auth_check,
};
