/* SPDX-License-Identifier: Apache-2.0 */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* Lowercase hex SHA-256 of buf into out[65]. */
void sha256_hex(const void *buf, size_t len, char out[65]);

/* The same in pieces. */
struct sha256_ctx {
        uint32_t h[8];
        uint64_t total;
        uint8_t block[64];
        size_t fill;
};
void sha256_init(struct sha256_ctx *c);
void sha256_update(struct sha256_ctx *c, const void *buf, size_t len);
void sha256_final_hex(struct sha256_ctx *c, char out[65]);
