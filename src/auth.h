/* SPDX-License-Identifier: Apache-2.0 */
/* Who is calling (codejail-service(7) "Authentication"): the LMS's signed JWT
 * (`Authorization: JWT <token>`, as edx-rest-api-client sends it) checked
 * against the LMS's public JWK set. RS256/RS384/RS512 only: `none` and
 * HMAC are never accepted, whatever the token says (the key set holds
 * public keys, and a public key used as an HMAC secret is the classic
 * algorithm-confusion forgery). Pure: no I/O, no logging; failures come
 * back as a log status and a reason for server.c to answer and log once. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds: a token longer than this is refused before it is decoded (the
 * LMS's are ~1 KiB); a key set holds at most AUTH_MAX_KEYS RSA keys of
 * 2048..8192 bits. */
#define AUTH_MAX_TOKEN 8192
#define AUTH_MAX_KEYS 32
#define AUTH_MIN_RSA_BITS 2048
#define AUTH_MAX_RSA_BITS 8192

enum {
        AUTH_RS256 = 1u << 0,
        AUTH_RS384 = 1u << 1,
        AUTH_RS512 = 1u << 2,
        AUTH_ALGS_ALL = AUTH_RS256 | AUTH_RS384 | AUTH_RS512,
};

/* The bit of an accepted algorithm name ("RS256", ...), or 0. */
unsigned auth_alg_bit(const char *name);

/* How the LMS minted a token: its "grant_type" claim, the grant type of
 * the OAuth application the token was issued to (openedx-platform,
 * oauth_dispatch/jwt.py; Django OAuth Toolkit's names, hyphenated, unlike
 * the token request's "client_credentials"). The platform's code-jail
 * client (edx-rest-api-client's OAuthAPIClient) is a client-credentials
 * application: its tokens name the application's own user. Every other
 * grant stands for a person: the login cookie and the mobile apps use the
 * password grant, third-party sites authorization-code. */
enum {
        AUTH_GRANT_CLIENT_CREDENTIALS = 1u << 0,
        AUTH_GRANT_PASSWORD = 1u << 1,
        AUTH_GRANT_AUTHORIZATION_CODE = 1u << 2,
        AUTH_GRANT_IMPLICIT = 1u << 3,
        AUTH_GRANT_OPENID_HYBRID = 1u << 4,
        /* Tokens minted for a person: refused unless configured. */
        AUTH_GRANTS_PERSON = AUTH_GRANT_PASSWORD | AUTH_GRANT_AUTHORIZATION_CODE | AUTH_GRANT_IMPLICIT |
                             AUTH_GRANT_OPENID_HYBRID,
};

/* The bit of a grant_type value ("client-credentials", ...), or 0. */
unsigned auth_grant_bit(const char *name);

struct auth_keys;

/* Parse a JWK set ({"keys": [...]}). RSA signing keys are kept (kid
 * required and unique; n of 2048..8192 bits); keys of another kty or
 * "use" are skipped. No usable key is an error. On error returns -EINVAL
 * (or -ENOMEM) with a message in err. */
int auth_keys_parse(const char *text, size_t len, struct auth_keys **ret, char *err, size_t errlen);
void auth_keys_free(struct auth_keys *k);
size_t auth_keys_count(const struct auth_keys *k);

/* A claim the token must carry: equal to value (a string claim), or an
 * array claim holding value (e.g. "scopes"); value NULL: present at all. */
struct auth_claim {
        char *name;
        char *value;
};

/* What the configuration accepts (conf.c fills it; jwt_* keys). */
struct auth_policy {
        struct auth_keys *keys;      /* NULL: not loaded (refuse everything) */
        char **issuers;              /* iss must be one of them */
        size_t n_issuers;
        char **audiences;            /* aud (string or array) must hold one */
        size_t n_audiences;
        char **usernames;            /* preferred_username must be one of them */
        size_t n_usernames;
        unsigned grant_types;        /* AUTH_GRANT_* mask grant_type must be in; 0: none */
        unsigned algorithms;         /* AUTH_RS* mask */
        int64_t clock_skew_s;        /* leeway for exp, nbf, iat */
        struct auth_claim *claims;
        size_t n_claims;
};

void auth_policy_done(struct auth_policy *p);

/* The verified caller, for the log. */
struct auth_caller {
        char issuer[128];
        char subject[128];
        char username[64];           /* preferred_username, when present */
};

struct auth_error {
        const char *log_status;      /* "auth.missing" or "auth.invalid" */
        char reason[160];            /* for the log and the client; never the token */
};

/* Check one Authorization header value (NULL: none was sent) at time now
 * (seconds since the epoch). Returns 0 with *caller filled, or -EACCES
 * with *err filled, or -ENOMEM. */
int auth_check(const struct auth_policy *p, const char *authorization, int64_t now, struct auth_caller *caller,
               struct auth_error *err);

/* The verifier as the plugin hands it over (authplugin.c): auth.c's own
 * functions. codejaild is not linked with auth.c: its auth_keys_parse(),
 * auth_keys_free(), auth_keys_count() and auth_check() (authload.c) load
 * the plugin at the first key set parsed -- at configuration time, before
 * the instance hardens itself -- and call through this table. The unit
 * tests and fuzzers link auth.c itself. */
#define AUTH_OPS_ABI 2u
struct auth_ops {
        unsigned abi;                /* AUTH_OPS_ABI */
        const char *version;         /* PACKAGE_VERSION of the build */
        int (*keys_parse)(const char *text, size_t len, struct auth_keys **ret, char *err, size_t errlen);
        void (*keys_free)(struct auth_keys *k);
        size_t (*keys_count)(const struct auth_keys *k);
        int (*check)(const struct auth_policy *p, const char *authorization, int64_t now,
                     struct auth_caller *caller, struct auth_error *err);
};
#define AUTH_PLUGIN_NAME "codejail-auth.so"
#define AUTH_PLUGIN_SYMBOL "codejail_auth_ops"
