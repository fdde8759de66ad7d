/* SPDX-License-Identifier: Apache-2.0 */
/* auth.c (25): the JWK set parser, and every case of
 * tests/data/auth/<case>/{authorization,expected} (tokens made by
 * tests/data/auth/make.py as the LMS makes them) checked at the time they
 * were made for: valid ones from each key and algorithm, and the refusals
 * (expired, not yet valid, wrong issuer/audience/key/kid, alg none, HMAC
 * with the public key as the secret, truncated, oversized, a learner's
 * login cookie, another service's client, ...). */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "auth.h"
#include "slurp.h"

#define NOW 1700000000
#define DATA TEST_DATA_DIR "/auth"

static char *strings[] = { "https://lms.example.com/oauth2", "codejail-test", "https://other-lms.example.com/oauth2" };

static void policy(struct auth_policy *p) {
        char err[256] = "";
        char *text = slurp(DATA "/jwks.json");
        assert_non_null(text);
        *p = (struct auth_policy){ 0 };
        if (auth_keys_parse(text, strlen(text), &p->keys, err, sizeof err) < 0)
                fail_msg("jwks.json: %s", err);
        free(text);
        static char *issuers[2], *audiences[1], *usernames[] = { "codejail_worker" };
        issuers[0] = strings[2], issuers[1] = strings[0], audiences[0] = strings[1];
        p->issuers = issuers, p->n_issuers = 2;
        p->audiences = audiences, p->n_audiences = 1;
        p->usernames = usernames, p->n_usernames = 1;
        /* conf.c's default: the service client only */
        p->grant_types = AUTH_GRANT_CLIENT_CREDENTIALS;
        p->algorithms = AUTH_ALGS_ALL;
        p->clock_skew_s = 60;
        static struct auth_claim claims[] = { { "scopes", "read" } };
        p->claims = claims, p->n_claims = 1;
}

static void test_keys(void **state) {
        struct auth_policy p;
        policy(&p);
        /* Two RSA keys; the EC key is skipped, not an error. */
        assert_int_equal(auth_keys_count(p.keys), 2);
        auth_keys_free(p.keys);

        static const struct {
                const char *text, *needle;
        } bad[] = {
                { "[]", "expected a JWK set" },
                { "{\"keys\": 1}", "expected a JWK set" },
                { "{\"keys\": []}", "no RSA signing key" },
                { "{\"keys\": [{\"kty\": \"RSA\", \"use\": \"enc\", \"kid\": \"a\", \"n\": \"AQAB\", \"e\": \"AQAB\"}]}",
                  "no RSA signing key" },
                { "{\"keys\": [{\"kty\": \"RSA\", \"n\": \"AQAB\", \"e\": \"AQAB\"}]}", "kid" },
                { "{\"keys\": [{\"kty\": \"RSA\", \"kid\": \"a\", \"alg\": \"HS256\", \"n\": \"AQAB\", \"e\": \"AQAB\"}]}",
                  "RS256, RS384 or RS512" },
                { "{\"keys\": [{\"kty\": \"RSA\", \"kid\": \"a\", \"n\": \"AQAB\", \"e\": \"AQAB\"}]}", "2048..8192 bits" },
                { "{\"keys\": [{\"kty\": \"RSA\", \"kid\": \"a\", \"n\": \"A=\", \"e\": \"AQAB\"}]}", "not base64url" },
                { "{\"keys\": [{\"kty\": \"RSA\", \"kid\": \"a\", \"e\": \"AQAB\"}]}", "not base64url" },
                { "{\"keys\": [], \"keys\": []}", "duplicate" },
        };
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
                struct auth_keys *k = NULL;
                char err[256] = "";
                int r = auth_keys_parse(bad[i].text, strlen(bad[i].text), &k, err, sizeof err);
                if (r != -EINVAL || !strstr(err, bad[i].needle))
                        fail_msg("bad[%zu] %s: r=%d err=%s (wanted '%s')", i, bad[i].text, r, err, bad[i].needle);
                assert_null(k);
        }
        /* The same kid twice would make the key a token picks ambiguous. */
        char *text = slurp(DATA "/jwks.json");
        char *dup = calloc(1, strlen(text) * 2 + 16);
        char *open = strchr(text, '[') + 1, *end = strstr(open, "},") + 1;
        sprintf(dup, "%.*s%.*s,%s", (int)(open - text), text, (int)(end - open), open, open);
        struct auth_keys *k = NULL;
        char err[256] = "";
        assert_int_equal(auth_keys_parse(dup, strlen(dup), &k, err, sizeof err), -EINVAL);
        assert_non_null(strstr(err, "appears twice"));
        free(dup);
        free(text);
}

static void test_grant_names(void **state) {
        assert_int_equal(auth_grant_bit("client-credentials"), AUTH_GRANT_CLIENT_CREDENTIALS);
        assert_int_equal(auth_grant_bit("password"), AUTH_GRANT_PASSWORD);
        assert_int_equal(auth_grant_bit("authorization-code"), AUTH_GRANT_AUTHORIZATION_CODE);
        assert_int_equal(auth_grant_bit("implicit"), AUTH_GRANT_IMPLICIT);
        assert_int_equal(auth_grant_bit("openid-hybrid"), AUTH_GRANT_OPENID_HYBRID);
        assert_false(AUTH_GRANTS_PERSON & AUTH_GRANT_CLIENT_CREDENTIALS);
        static const char *never[] = { "client_credentials", "Client-Credentials", "", "unknown-error", NULL };
        for (size_t i = 0; i < sizeof never / sizeof *never; i++)
                assert_int_equal(auth_grant_bit(never[i]), 0);
}

/* Who a token was minted for: by default the service client's user with
 * the client-credentials grant only; a person's grant passes only when the
 * operator lists it, and then only for a listed user. */
static void test_who(void **state) {
        struct auth_policy p;
        struct auth_caller c;
        struct auth_error err;
        policy(&p);
        char *cookie = slurp(DATA "/person-login-cookie/authorization"),
             *person_service = slurp(DATA "/person-service-user/authorization"),
             *other = slurp(DATA "/other-service-client/authorization"), *ok = slurp(DATA "/ok-rs512/authorization");
        assert_int_equal(auth_check(&p, cookie, NOW, &c, &err), -EACCES);
        assert_string_equal(err.reason, "a person's token (grant_type password) not accepted");
        assert_int_equal(auth_check(&p, person_service, NOW, &c, &err), -EACCES);
        p.grant_types |= AUTH_GRANT_PASSWORD;
        assert_int_equal(auth_check(&p, person_service, NOW, &c, &err), 0);
        assert_int_equal(auth_check(&p, cookie, NOW, &c, &err), -EACCES);
        assert_string_equal(err.reason, "preferred_username not accepted");
        /* Only the person grants: the service client's own token is refused. */
        p.grant_types = AUTH_GRANT_PASSWORD;
        assert_int_equal(auth_check(&p, ok, NOW, &c, &err), -EACCES);
        assert_string_equal(err.reason, "grant_type client-credentials not accepted");
        p.grant_types = AUTH_GRANT_CLIENT_CREDENTIALS;
        assert_int_equal(auth_check(&p, other, NOW, &c, &err), -EACCES);
        static char *two[] = { "codejail_worker", "ecommerce_worker" };
        p.usernames = two, p.n_usernames = 2;
        assert_int_equal(auth_check(&p, other, NOW, &c, &err), 0);
        assert_string_equal(c.username, "ecommerce_worker");
        /* No grant type, no user: nothing passes. */
        p.grant_types = 0;
        assert_int_equal(auth_check(&p, ok, NOW, &c, &err), -EACCES);
        p.grant_types = AUTH_GRANT_CLIENT_CREDENTIALS, p.n_usernames = 0;
        assert_int_equal(auth_check(&p, ok, NOW, &c, &err), -EACCES);
        free(cookie);
        free(person_service);
        free(other);
        free(ok);
        auth_keys_free(p.keys);
}

static void test_alg_names(void **state) {
        assert_int_equal(auth_alg_bit("RS256"), AUTH_RS256);
        assert_int_equal(auth_alg_bit("RS384"), AUTH_RS384);
        assert_int_equal(auth_alg_bit("RS512"), AUTH_RS512);
        static const char *never[] = { "none", "None", "HS256", "HS512", "PS256", "ES256", "rs256", "", NULL };
        for (size_t i = 0; i < sizeof never / sizeof *never; i++)
                assert_int_equal(auth_alg_bit(never[i]), 0);
}

static void test_cases(void **state) {
        struct auth_policy p;
        policy(&p);
        DIR *d = opendir(DATA);
        assert_non_null(d);
        struct dirent *e;
        int n = 0, n_ok = 0;
        while ((e = readdir(d))) {
                if (e->d_name[0] == '.' || e->d_type != DT_DIR)
                        continue;
                char path[512];
                snprintf(path, sizeof path, DATA "/%s/authorization", e->d_name);
                char *value = slurp(path);
                snprintf(path, sizeof path, DATA "/%s/expected", e->d_name);
                char *expected = slurp(path);
                assert_non_null(value);
                assert_non_null(expected);
                struct auth_caller caller = { 0 };
                struct auth_error err = { 0 };
                int r = auth_check(&p, value, NOW, &caller, &err);
                char got[512];
                if (r == 0)
                        snprintf(got, sizeof got, "ok %s %s %s", caller.issuer, caller.subject, caller.username);
                else
                        snprintf(got, sizeof got, "%s %s", err.log_status ? err.log_status + 5 : "?", err.reason);
                if (strncmp(got, expected, strlen(expected)) != 0)
                        fail_msg("case %s: got '%s', expected '%s'", e->d_name, got, expected);
                if (r != 0 && (r != -EACCES || strcmp(err.log_status ? err.log_status : "", "auth.invalid") != 0))
                        fail_msg("case %s: r=%d status %s", e->d_name, r, err.log_status);
                /* The reason never carries the token. */
                const char *token = strchr(value, ' ');
                if (r != 0 && token && strlen(token) > 20)
                        assert_null(strstr(err.reason, token + 1));
                n++;
                n_ok += r == 0;
                free(value);
                free(expected);
        }
        closedir(d);
        assert_true(n >= 40);
        assert_true(n_ok >= 8);
        auth_keys_free(p.keys);
}

/* Time: exp + skew is the end, nbf - skew the start; and what an operator
 * narrows (algorithms, skew) narrows. */
static void test_policy_knobs(void **state) {
        struct auth_policy p;
        struct auth_caller c;
        struct auth_error err;
        policy(&p);
        char *rs256 = slurp(DATA "/ok-rs256/authorization"), *rs512 = slurp(DATA "/ok-rs512/authorization");
        assert_int_equal(auth_check(&p, rs512, NOW + 300 + 59, &c, &err), 0);
        assert_int_equal(auth_check(&p, rs512, NOW + 300 + 60, &c, &err), -EACCES);
        assert_string_equal(err.reason, "expired");
        /* iat in the future by more than the skew: a clock far off. */
        assert_int_equal(auth_check(&p, rs512, NOW - 61, &c, &err), -EACCES);
        assert_string_equal(err.reason, "issued in the future (iat)");
        p.clock_skew_s = 0;
        assert_int_equal(auth_check(&p, rs512, NOW + 300, &c, &err), -EACCES);
        p.clock_skew_s = 60;
        p.algorithms = AUTH_RS512;
        assert_int_equal(auth_check(&p, rs512, NOW, &c, &err), 0);
        assert_int_equal(auth_check(&p, rs256, NOW, &c, &err), -EACCES);
        assert_string_equal(err.reason, "alg RS256 not accepted");
        p.algorithms = AUTH_ALGS_ALL;
        /* Missing header: its own status, for the log and WWW-Authenticate. */
        assert_int_equal(auth_check(&p, NULL, NOW, &c, &err), -EACCES);
        assert_string_equal(err.log_status, "auth.missing");
        /* No key set loaded: everything is refused. */
        struct auth_keys *keys = p.keys;
        p.keys = NULL;
        assert_int_equal(auth_check(&p, rs512, NOW, &c, &err), -EACCES);
        p.keys = keys;
        free(rs256);
        free(rs512);
        auth_keys_free(p.keys);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_keys),
                cmocka_unit_test(test_alg_names),
                cmocka_unit_test(test_grant_names),
                cmocka_unit_test(test_who),
                cmocka_unit_test(test_cases),
                cmocka_unit_test(test_policy_knobs),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
