/* SPDX-License-Identifier: Apache-2.0 */
/* SipHash-2-4 (Aumasson & Bernstein) with a per-process random key: the
 * hash of tables whose keys the client chooses (duplicate object keys in
 * pyjson.c, the answer's merge in safeexec.c), so that no one can pick keys
 * that collide and turn a lookup into a scan. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Under the process's key, drawn from getrandom() on first use. */
uint64_t siphash_bytes(const void *p, size_t n);

/* Under an explicit 16-byte key (the reference test vectors). */
uint64_t siphash24(const uint8_t key[16], const void *p, size_t n);
