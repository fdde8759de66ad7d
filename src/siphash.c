/* SPDX-License-Identifier: Apache-2.0 */
/* SipHash-2-4 of a byte string under a per-process random key (siphash.h),
 * as in the reference implementation (github.com/veorq/SipHash). */
#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "siphash.h"

static uint8_t process_key[16];
static int keyed;

static void key_init(void) {
        uint64_t k[2];
        size_t got = 0;

        while (got < sizeof k) {
                ssize_t n = getrandom((char *)k + got, sizeof k - got, 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                got += (size_t)n;
        }
        if (got < sizeof k) {
                /* No getrandom (a kernel older than 3.17): an unpredictable
                 * enough key is still better than a fixed one. */
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                k[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15u ^ (uint64_t)getpid();
                k[1] = (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)&got;
        }
        memcpy(process_key, k, sizeof process_key);
        keyed = 1;
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define ROUND                                                                                                  \
        do {                                                                                                   \
                v0 += v1, v1 = ROTL(v1, 13), v1 ^= v0, v0 = ROTL(v0, 32);                                     \
                v2 += v3, v3 = ROTL(v3, 16), v3 ^= v2;                                                        \
                v0 += v3, v3 = ROTL(v3, 21), v3 ^= v0;                                                        \
                v2 += v1, v1 = ROTL(v1, 17), v1 ^= v2, v2 = ROTL(v2, 32);                                     \
        } while (0)

static uint64_t le64(const unsigned char *p) {
        uint64_t v = 0;
        for (int i = 7; i >= 0; i--)
                v = v << 8 | p[i];
        return v;
}

uint64_t siphash24(const uint8_t key[16], const void *data, size_t n) {
        const unsigned char *p = data, *end = p + (n & ~(size_t)7);
        uint64_t k0 = le64(key), k1 = le64(key + 8);
        uint64_t v0 = k0 ^ 0x736f6d6570736575u, v1 = k1 ^ 0x646f72616e646f6du;
        uint64_t v2 = k0 ^ 0x6c7967656e657261u, v3 = k1 ^ 0x7465646279746573u;
        for (; p < end; p += 8) {
                uint64_t m = le64(p);
                v3 ^= m;
                ROUND;
                ROUND;
                v0 ^= m;
        }
        uint64_t b = (uint64_t)n << 56;
        for (size_t i = 0; i < (n & 7); i++)
                b |= (uint64_t)p[i] << (8 * i);
        v3 ^= b;
        ROUND;
        ROUND;
        v0 ^= b;
        v2 ^= 0xff;
        ROUND;
        ROUND;
        ROUND;
        ROUND;
        return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t siphash_bytes(const void *p, size_t n) {
        if (!keyed)
                key_init();
        return siphash24(process_key, p, n);
}
