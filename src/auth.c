/* SPDX-License-Identifier: Apache-2.0 */
/* JWS (RFC 7515, compact form) and JWT (RFC 7519) checks of the LMS's
 * token, see auth.h. The JOSE JSON is jansson's; RSA PKCS#1 v1.5 and the
 * SHA-2 digests are nettle's (libhogweed): of the Debian-packaged
 * candidates it costs a per-connection instance least to load and run,
 * and makes no system call (README "Authentication", tests/bench/jws-cost.sh).
 *
 * Order of the checks, cheapest and least trusting first: scheme, length,
 * shape and base64url of the three parts, the header (alg on our list,
 * no crit, a kid we hold when there is one, the key's own alg), the
 * signature over "header.payload" (by each key that may sign with alg when
 * the header names none), and only then the claims: nothing of an
 * unverified payload is looked at.
 *
 * Built twice: into the unit tests and fuzzers as is, and into the plugin
 * codejaild loads only when jwt_jwks_file is set (authplugin.c,
 * authload.c), so that an instance without authentication never maps
 * nettle, hogweed and GMP. */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <nettle/bignum.h>
#include <nettle/rsa.h>
#include <nettle/sha2.h>

#include "auth.h"
#include "errbuf.h"
#include "macro.h"

struct auth_key {
        char kid[129];
        unsigned alg; /* the JWK's "alg" as a bit; 0: any accepted one */
        struct rsa_public_key rsa;
};

struct auth_keys {
        size_t n;
        struct auth_key k[AUTH_MAX_KEYS];
};

/* base64url without padding (RFC 7515 2): any other byte, '=' included,
 * and a length of 4k+1 are errors, and so are set bits past the last whole
 * byte (one token, one encoding). Returns the decoded length, or -EINVAL.
 * out holds at least n * 3 / 4 + 1 bytes. */
static ssize_t b64url_decode(const char *in, size_t n, uint8_t *out) {
        uint32_t acc = 0;
        unsigned bits = 0;
        size_t o = 0;
        if (n % 4 == 1)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)in[i];
                int v = c >= 'A' && c <= 'Z'   ? c - 'A'
                        : c >= 'a' && c <= 'z' ? c - 'a' + 26
                        : c >= '0' && c <= '9' ? c - '0' + 52
                        : c == '-'             ? 62
                        : c == '_'             ? 63
                                               : -1;
                if (v < 0)
                        return -EINVAL;
                acc = (acc << 6) | (uint32_t)v;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        out[o++] = (uint8_t)(acc >> bits);
                }
        }
        if (acc & ((1u << bits) - 1))
                return -EINVAL;
        return (ssize_t)o;
}

/* n bytes of base64url decoded into a fresh buffer (empty is invalid). */
static int b64url_dup(const char *s, size_t n, uint8_t **ret, size_t *len) {
        _cleanup_free_ uint8_t *buf = malloc(n * 3 / 4 + 1);
        if (!buf)
                return -ENOMEM;
        ssize_t k = b64url_decode(s, n, buf);
        if (k <= 0)
                return -EINVAL;
        *len = (size_t)k;
        *ret = TAKE_PTR(buf);
        return 0;
}

/* A base64url string member of a JSON object, decoded into a fresh buffer. */
static int b64url_member(const json_t *o, const char *key, uint8_t **ret, size_t *len) {
        const char *s = json_string_value(json_object_get(o, key));
        return s ? b64url_dup(s, strlen(s), ret, len) : -EINVAL;
}

#define fail(err, errlen, ...) errbuf(-EINVAL, err, errlen, __VA_ARGS__)

void auth_keys_free(struct auth_keys *k) {
        if (!k)
                return;
        for (size_t i = 0; i < k->n; i++)
                rsa_public_key_clear(&k->k[i].rsa);
        free(k);
}

size_t auth_keys_count(const struct auth_keys *k) {
        return k ? k->n : 0;
}

static int parse_key(const json_t *jwk, size_t i, struct auth_key *key, char *err, size_t errlen) {
        const char *kid = json_string_value(json_object_get(jwk, "kid"));
        if (!kid || !*kid || strlen(kid) >= sizeof key->kid || strlen(kid) != json_string_length(json_object_get(jwk, "kid")))
                return fail(err, errlen, "keys[%zu]: expected a \"kid\" of 1..128 characters", i);
        snprintf(key->kid, sizeof key->kid, "%s", kid);
        const json_t *alg = json_object_get(jwk, "alg");
        if (alg) {
                key->alg = auth_alg_bit(json_string_value(alg));
                if (!key->alg)
                        return fail(err, errlen, "keys[%zu] (kid %.60s): \"alg\" must be RS256, RS384 or RS512", i,
                                    kid);
        }
        _cleanup_free_ uint8_t *n = NULL, *e = NULL;
        size_t nlen, elen;
        int r = b64url_member(jwk, "n", &n, &nlen);
        if (r == -EINVAL)
                return fail(err, errlen, "keys[%zu] (kid %.60s): \"n\" is not base64url", i, kid);
        if (r < 0)
                return r;
        r = b64url_member(jwk, "e", &e, &elen);
        if (r == -EINVAL || (r >= 0 && elen > 8))
                return fail(err, errlen, "keys[%zu] (kid %.60s): \"e\" is not a base64url exponent", i, kid);
        if (r < 0)
                return r;
        rsa_public_key_init(&key->rsa);
        nettle_mpz_set_str_256_u(key->rsa.n, nlen, n);
        nettle_mpz_set_str_256_u(key->rsa.e, elen, e);
        size_t bits = mpz_sizeinbase(key->rsa.n, 2);
        if (bits < AUTH_MIN_RSA_BITS || bits > AUTH_MAX_RSA_BITS || !rsa_public_key_prepare(&key->rsa)) {
                rsa_public_key_clear(&key->rsa);
                return fail(err, errlen, "keys[%zu] (kid %.60s): not an RSA public key of %d..%d bits", i, kid,
                            AUTH_MIN_RSA_BITS, AUTH_MAX_RSA_BITS);
        }
        return 0;
}

int auth_keys_parse(const char *text, size_t len, struct auth_keys **ret, char *err, size_t errlen) {
        json_error_t jerr;
        json_auto_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!root)
                return fail(err, errlen, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
        const json_t *keys = json_object_get(root, "keys");
        if (!json_is_array(keys))
                return fail(err, errlen, "expected a JWK set: {\"keys\": [...]}");
        struct auth_keys *k = calloc(1, sizeof *k);
        if (!k)
                return -ENOMEM;
        size_t i;
        const json_t *jwk;
        json_array_foreach(keys, i, jwk) {
                const char *use = json_string_value(json_object_get(jwk, "use"));
                /* Encryption keys and other key types are not ours to judge. */
                if (!json_is_object(jwk) || !streq_safe(json_string_value(json_object_get(jwk, "kty")), "RSA") ||
                    (json_object_get(jwk, "use") && !streq_safe(use, "sig")))
                        continue;
                if (k->n == AUTH_MAX_KEYS) {
                        auth_keys_free(k);
                        return fail(err, errlen, "more than %d RSA signing keys", AUTH_MAX_KEYS);
                }
                int r = parse_key(jwk, i, &k->k[k->n], err, errlen);
                if (r < 0) {
                        auth_keys_free(k);
                        return r;
                }
                for (size_t j = 0; j < k->n; j++)
                        if (strcmp(k->k[j].kid, k->k[k->n].kid) == 0) {
                                /* the message names the kid: written before the set is freed */
                                r = fail(err, errlen, "keys[%zu]: kid %.60s appears twice", i, k->k[j].kid);
                                rsa_public_key_clear(&k->k[k->n].rsa);
                                auth_keys_free(k);
                                return r;
                        }
                k->n++;
        }
        if (k->n == 0) {
                auth_keys_free(k);
                return fail(err, errlen, "no RSA signing key (\"kty\": \"RSA\", \"use\": \"sig\" or none)");
        }
        *ret = k;
        return 0;
}

/* DigestInfo prefix of SHA-384 (RFC 8017 9.2, note 1): nettle has helpers
 * for SHA-256 and SHA-512 only. */
static const uint8_t sha384_prefix[] = { 0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                         0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30 };

static bool signature_ok(const struct rsa_public_key *key, unsigned alg, const char *signed_part, size_t n,
                         const uint8_t *sig, size_t sig_len) {
        /* The signature is exactly the modulus' length (RFC 8017 8.2.2). */
        if (sig_len != key->size)
                return false;
        mpz_t s;
        nettle_mpz_init_set_str_256_u(s, sig_len, sig);
        int ok = 0;
        if (alg == AUTH_RS256) {
                struct sha256_ctx c;
                uint8_t d[SHA256_DIGEST_SIZE];
                sha256_init(&c);
                sha256_update(&c, n, (const uint8_t *)signed_part);
                sha256_digest(&c, sizeof d, d);
                ok = rsa_sha256_verify_digest(key, d, s);
        } else if (alg == AUTH_RS384) {
                struct sha384_ctx c;
                uint8_t info[sizeof sha384_prefix + SHA384_DIGEST_SIZE];
                memcpy(info, sha384_prefix, sizeof sha384_prefix);
                sha384_init(&c);
                sha384_update(&c, n, (const uint8_t *)signed_part);
                sha384_digest(&c, SHA384_DIGEST_SIZE, info + sizeof sha384_prefix);
                ok = rsa_pkcs1_verify(key, sizeof info, info, s);
        } else if (alg == AUTH_RS512) {
                struct sha512_ctx c;
                uint8_t d[SHA512_DIGEST_SIZE];
                sha512_init(&c);
                sha512_update(&c, n, (const uint8_t *)signed_part);
                sha512_digest(&c, sizeof d, d);
                ok = rsa_sha512_verify_digest(key, d, s);
        }
        mpz_clear(s);
        return ok != 0;
}

_printf_(3, 4) static int deny(struct auth_error *err, const char *log_status, const char *fmt, ...) {
        va_list ap;
        err->log_status = log_status;
        va_start(ap, fmt);
        vsnprintf(err->reason, sizeof err->reason, fmt, ap);
        va_end(ap);
        return -EACCES;
}
#define INVALID(...) deny(err, "auth.invalid", __VA_ARGS__)

/* A JSON part of the token: base64url, then an object, duplicates refused
 * (two "alg" or two "exp" would let parsers disagree). */
static int decode_json(const char *part, size_t n, json_t **ret) {
        _cleanup_free_ uint8_t *buf = NULL;
        size_t k;
        int r = b64url_dup(part, n, &buf, &k);
        if (r < 0)
                return r;
        json_t *v = json_loadb((const char *)buf, k, JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(v)) {
                json_decref(v);
                return -EINVAL;
        }
        *ret = v;
        return 0;
}

static bool in_list(const char *s, char *const *list, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (streq_safe(s, list[i]))
                        return true;
        return false;
}

/* A string claim equal to value, or an array claim holding it. */
static bool claim_holds(const json_t *claim, const char *value) {
        if (json_is_string(claim))
                return streq_safe(json_string_value(claim), value);
        size_t i;
        const json_t *e;
        json_array_foreach(claim, i, e)
                if (streq_safe(json_string_value(e), value))
                        return true;
        return false;
}

static void copy_printable(char *dst, size_t size, const char *src) {
        size_t o = 0;
        for (; src && *src && o + 1 < size; src++)
                dst[o++] = ((unsigned char)*src >= 0x20 && (unsigned char)*src < 0x7f) ? *src : '?';
        dst[o] = 0;
}

static int check_claims(const struct auth_policy *p, const json_t *claims, int64_t now, struct auth_error *err) {
        const json_t *exp = json_object_get(claims, "exp"), *nbf = json_object_get(claims, "nbf"),
                     *iat = json_object_get(claims, "iat");
        double t = (double)now, skew = (double)p->clock_skew_s;

        /* A token without an expiry would be good forever. */
        if (!json_is_number(exp))
                return INVALID("no numeric exp claim");
        if (t >= json_number_value(exp) + skew)
                return INVALID("expired");
        if (nbf && (!json_is_number(nbf) || t + skew < json_number_value(nbf)))
                return INVALID("not yet valid (nbf)");
        if (iat && (!json_is_number(iat) || t + skew < json_number_value(iat)))
                return INVALID("issued in the future (iat)");
        if (!in_list(json_string_value(json_object_get(claims, "iss")), p->issuers, p->n_issuers))
                return INVALID("issuer not accepted");
        const json_t *aud = json_object_get(claims, "aud");
        bool aud_ok = false;
        for (size_t i = 0; i < p->n_audiences && !aud_ok; i++)
                aud_ok = claim_holds(aud, p->audiences[i]);
        if (!aud_ok)
                return INVALID("audience not accepted");
        /* Who the token was minted for. The LMS signs a learner's login
         * cookie with the same key, issuer and audience as its service
         * clients' tokens: only grant_type and the user tell them apart. */
        const json_t *grant = json_object_get(claims, "grant_type");
        unsigned grant_bit = auth_grant_bit(json_string_value(grant));
        if (!json_is_string(grant))
                return INVALID("no grant_type claim");
        if (!(grant_bit & p->grant_types)) {
                char clean[24];
                copy_printable(clean, sizeof clean, json_string_value(grant));
                return (grant_bit & AUTH_GRANTS_PERSON) ? INVALID("a person's token (grant_type %s) not accepted", clean)
                                                        : INVALID("grant_type %s not accepted", clean);
        }
        if (!in_list(json_string_value(json_object_get(claims, "preferred_username")), p->usernames, p->n_usernames))
                return INVALID("preferred_username not accepted");
        for (size_t i = 0; i < p->n_claims; i++) {
                const json_t *c = json_object_get(claims, p->claims[i].name);
                if (!c || json_is_null(c))
                        return INVALID("required claim %.60s missing", p->claims[i].name);
                if (p->claims[i].value && !claim_holds(c, p->claims[i].value))
                        return INVALID("required claim %.60s does not match", p->claims[i].name);
        }
        return 0;
}

int auth_check(const struct auth_policy *p, const char *authorization, int64_t now, struct auth_caller *caller,
               struct auth_error *err) {
        *err = (struct auth_error){ 0 };
        if (!authorization)
                return deny(err, "auth.missing", "no Authorization header");
        /* auth-scheme is case-insensitive (RFC 9110 11.1); the LMS's client
         * (edx-rest-api-client) sends "JWT <token>". */
        const char *sp = strchr(authorization, ' ');
        if (!sp || sp - authorization != 3 || strncasecmp(authorization, "JWT", 3) != 0)
                return INVALID("Authorization scheme is not JWT");
        const char *token = sp + strspn(sp, " ");
        size_t len = strlen(token);
        if (len > AUTH_MAX_TOKEN)
                return INVALID("token longer than %d bytes", AUTH_MAX_TOKEN);
        const char *dot1 = memchr(token, '.', len);
        const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
        if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
                return INVALID("malformed token: not three base64url parts");
        if (!p->keys)
                return INVALID("no key set loaded");

        json_auto_t *header = NULL, *claims = NULL;
        int r = decode_json(token, (size_t)(dot1 - token), &header);
        if (r == -EINVAL)
                return INVALID("malformed token: header is not base64url JSON");
        if (r < 0)
                return r;
        const char *alg_name = json_string_value(json_object_get(header, "alg"));
        unsigned alg = auth_alg_bit(alg_name);
        if (!alg || !(alg & p->algorithms)) {
                char clean[24];
                copy_printable(clean, sizeof clean, alg_name ? alg_name : "(none)");
                return INVALID("alg %s not accepted", clean);
        }
        /* RFC 7515 4.1.11: extensions we do not implement must be refused. */
        if (json_object_get(header, "crit"))
                return INVALID("crit header not supported");
        const json_t *kid_v = json_object_get(header, "kid");
        const char *kid = json_string_value(kid_v);
        if (kid_v && !kid)
                return INVALID("kid is not a string");
        const struct auth_key *key = NULL;
        for (size_t i = 0; kid && i < p->keys->n && !key; i++)
                if (strcmp(p->keys->k[i].kid, kid) == 0)
                        key = &p->keys->k[i];
        if (kid && !key) {
                char clean[64];
                copy_printable(clean, sizeof clean, kid);
                return INVALID("unknown kid %s", clean);
        }
        if (key && key->alg && key->alg != alg)
                return INVALID("alg does not match the key's");

        const char *sig64 = dot2 + 1;
        size_t sig64_len = len - (size_t)(sig64 - token);
        _cleanup_free_ uint8_t *sig = malloc(sig64_len * 3 / 4 + 1);
        if (!sig)
                return -ENOMEM;
        ssize_t sig_len = b64url_decode(sig64, sig64_len, sig);
        if (sig_len <= 0)
                return INVALID("malformed token: signature is not base64url");
        /* Without a kid -- the LMS names its key only with its
         * JWT_AUTH_ADD_KID_HEADER on (openedx-platform oauth_dispatch/jwt.py;
         * off by default) -- each key of the set that may sign with alg is
         * tried, as edx-drf-extensions' decoder tries the whole set. */
        for (size_t i = 0; !kid && i < p->keys->n && !key; i++) {
                const struct auth_key *k = &p->keys->k[i];
                if ((!k->alg || k->alg == alg) &&
                    signature_ok(&k->rsa, alg, token, (size_t)(dot2 - token), sig, (size_t)sig_len))
                        key = k;
        }
        if (!key || (kid && !signature_ok(&key->rsa, alg, token, (size_t)(dot2 - token), sig, (size_t)sig_len)))
                return INVALID("bad signature");

        r = decode_json(dot1 + 1, (size_t)(dot2 - dot1 - 1), &claims);
        if (r == -EINVAL)
                return INVALID("malformed token: claims are not base64url JSON");
        if (r < 0)
                return r;
        r = check_claims(p, claims, now, err);
        if (r < 0)
                return r;
        *caller = (struct auth_caller){ 0 };
        copy_printable(caller->issuer, sizeof caller->issuer, json_string_value(json_object_get(claims, "iss")));
        copy_printable(caller->subject, sizeof caller->subject, json_string_value(json_object_get(claims, "sub")));
        copy_printable(caller->username, sizeof caller->username,
                       json_string_value(json_object_get(claims, "preferred_username")));
        return 0;
}
