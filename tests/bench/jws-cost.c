/* SPDX-License-Identifier: Apache-2.0 */
/* One RS256 JWS verification, as one codejaild instance would do it once
 * per connection, built four ways (tests/bench/jws-cost.sh compiles it with
 * -DVARIANT_...): NONE (jansson only: the instance as it is), NETTLE
 * (libnettle + libhogweed + libgmp), OPENSSL (libcrypto's EVP API), LIBJWT
 * (libjwt, which parses and verifies with libcrypto itself).
 * argv: JWKS file, token file, PEM file (libjwt 1.10 cannot read a JWK).
 * Prints "cpu_us hwm_kb verify_us ok": CPU since fork (CLOCK_PROCESS_CPUTIME_ID:
 * includes execve and dynamic linking), this image's peak RSS, the wall
 * time of the verification itself (first use in the process: what an
 * instance pays), and whether the signature verified. */
#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(VARIANT_NETTLE)
#include <nettle/base64.h>
#include <nettle/bignum.h>
#include <nettle/rsa.h>
#include <nettle/sha2.h>
#elif defined(VARIANT_OPENSSL)
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#elif defined(VARIANT_LIBJWT)
#include <jwt.h>
#endif

static char *slurp(const char *path, size_t *len) {
        static char buf[3][65536];
        static int i;
        int fd = open(path, O_RDONLY);
        ssize_t n = fd < 0 ? -1 : read(fd, buf[i], sizeof buf[i] - 1);
        if (n < 0)
                exit(2);
        close(fd);
        while (n > 0 && buf[i][n - 1] == '\n')
                n--;
        buf[i][n] = 0;
        if (len)
                *len = (size_t)n;
        return buf[i++];
}

static long long now_us(clockid_t c) {
        struct timespec ts;
        clock_gettime(c, &ts);
        return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

#if !defined(VARIANT_LIBJWT)
static size_t b64url(const char *in, size_t n, uint8_t *out) {
        static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        size_t o = 0;
        unsigned acc = 0, bits = 0;
        for (size_t i = 0; i < n; i++) {
                const char *p = strchr(a, in[i]);
                if (!p || !in[i])
                        exit(3);
                acc = acc << 6 | (unsigned)(p - a), bits += 6;
                if (bits >= 8)
                        out[o++] = (uint8_t)(acc >> (bits -= 8));
        }
        return o;
}
#endif

#if !defined(VARIANT_LIBJWT)
static int verify(const char *jwks_text, const char *token, const char *pem, size_t pem_len) {
        json_t *jwks = json_loads(jwks_text, 0, NULL);
        json_t *k = json_array_get(json_object_get(jwks, "keys"), 0);
        const char *n64 = json_string_value(json_object_get(k, "n"));
        const char *e64 = json_string_value(json_object_get(k, "e"));
        (void)n64, (void)e64, (void)pem, (void)pem_len;
        const char *dot1 = strchr(token, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
        if (!dot2)
                return 0;
        uint8_t hdr[1024], sig[1024], nb[1024], eb[16];
        size_t hl = b64url(token, (size_t)(dot1 - token), hdr);
        json_t *h = json_loadb((const char *)hdr, hl, 0, NULL);
        if (strcmp(json_string_value(json_object_get(h, "alg")), "RS256") != 0)
                return 0;
        size_t sl = b64url(dot2 + 1, strlen(dot2 + 1), sig);
        size_t nl = b64url(n64, strlen(n64), nb), el = b64url(e64, strlen(e64), eb);
        int ok;
#if defined(VARIANT_NETTLE)
        struct rsa_public_key key;
        rsa_public_key_init(&key);
        nettle_mpz_set_str_256_u(key.n, nl, nb);
        nettle_mpz_set_str_256_u(key.e, el, eb);
        if (!rsa_public_key_prepare(&key))
                return 0;
        struct sha256_ctx c;
        uint8_t d[SHA256_DIGEST_SIZE];
        sha256_init(&c);
        sha256_update(&c, (size_t)(dot2 - token), (const uint8_t *)token);
        sha256_digest(&c, sizeof d, d);
        mpz_t s;
        nettle_mpz_init_set_str_256_u(s, sl, sig);
        ok = rsa_sha256_verify_digest(&key, d, s);
#elif defined(VARIANT_OPENSSL)
        OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
        BIGNUM *bn = BN_bin2bn(nb, (int)nl, NULL), *be = BN_bin2bn(eb, (int)el, NULL);
        OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, bn);
        OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, be);
        OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(b);
        EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
        EVP_PKEY *pkey = NULL;
        if (EVP_PKEY_fromdata_init(pc) <= 0 || EVP_PKEY_fromdata(pc, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
                return 0;
        EVP_MD_CTX *mc = EVP_MD_CTX_new();
        ok = EVP_DigestVerifyInit_ex(mc, NULL, "SHA256", NULL, NULL, pkey, NULL) == 1 &&
             EVP_DigestVerify(mc, sig, sl, (const unsigned char *)token, (size_t)(dot2 - token)) == 1;
#else
        ok = 1;
#endif
        return ok;
}
#endif

int main(int argc, char **argv) {
        if (argc != 4)
                return 2;
        const char *jwks = slurp(argv[1], NULL), *token = slurp(argv[2], NULL);
        size_t pem_len;
        const char *pem = slurp(argv[3], &pem_len);
        long long t0 = now_us(CLOCK_MONOTONIC);
#if defined(VARIANT_LIBJWT)
        (void)jwks;
        jwt_t *jwt = NULL;
        /* libjwt 1.x verifies with whatever "alg" the token names: the
         * caller must check it (HS256 with the PEM as the secret verifies). */
        int ok = jwt_decode(&jwt, token, (const unsigned char *)pem, (int)pem_len) == 0 &&
                 jwt_get_alg(jwt) == JWT_ALG_RS256;
#else
        int ok = verify(jwks, token, pem, pem_len);
#endif
        long long verify_us = now_us(CLOCK_MONOTONIC) - t0;
        char st[4096];
        int fd = open("/proc/self/status", O_RDONLY);
        ssize_t n = read(fd, st, sizeof st - 1);
        st[n > 0 ? n : 0] = 0;
        const char *hwm = strstr(st, "VmHWM:");
        printf("%lld %ld %lld %d\n", now_us(CLOCK_PROCESS_CPUTIME_ID), hwm ? strtol(hwm + 6, NULL, 10) : -1L,
               verify_us, ok);
        return ok ? 0 : 1;
}
