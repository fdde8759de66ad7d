/* SPDX-License-Identifier: Apache-2.0 */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* Lowercase hex SHA-256 of buf into out[65]. */
void sha256_hex(const void *buf, size_t len, char out[65]);
