/* SPDX-License-Identifier: Apache-2.0 */
/* Config loading (codejail.json(5) "Keys"): defaults, every key, errors that
 * name the key, limit_overrides resolution. */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "conf.h"

static int parse(const char *text, struct config **c, char *err) {
        return config_parse(text, strlen(text), c, err, 256);
}

static void test_defaults(void **state) {
        struct config *c;
        char err[256];
        assert_int_equal(parse("{}", &c, err), 0);
        assert_false(c->enabled);
        assert_string_equal(c->python_bin, "/usr/bin/python3");
        assert_int_equal(c->uid_min, 1u << 30);
        assert_int_equal(c->uid_max, (1u << 31) - 2);
        assert_int_equal(c->limits.v[LIMIT_CPU], 3);
        assert_int_equal(c->limits.v[LIMIT_REALTIME], 5);
        assert_int_equal(c->limits.v[LIMIT_VMEM], 512 << 20);
        assert_int_equal(c->limits.v[LIMIT_FSIZE], 1 << 20);
        assert_int_equal(c->limits.v[LIMIT_NPROC], 15);
        assert_int_equal(c->limits.v[LIMIT_TMPFS], 16 << 20);
        assert_int_equal(c->limits.v[LIMIT_OUTPUT], 4 << 20);
        assert_int_equal(c->apparmor, APPARMOR_AUTO);
        assert_true(c->require_private_network);
        assert_int_equal(c->max_request_bytes, 32 << 20);
        assert_int_equal(c->max_header_bytes, 16 << 10);
        assert_int_equal(c->request_timeout_s, 10);
        assert_string_equal(c->state_dir, "/run/codejail-service");
        assert_int_equal(c->n_required_modules, 0);
        /* Derived from the CPUs this process may run on. */
        assert_int_equal(c->max_concurrent_executions, config_default_executions());
        assert_true(c->max_concurrent_executions >= CONFIG_EXECUTIONS_PER_CPU);
        assert_int_equal(c->max_concurrent_executions % CONFIG_EXECUTIONS_PER_CPU, 0);
        assert_int_equal(c->queue_timeout_s, 60);
        assert_true(c->metrics_route);
        config_free(c);
}

/* The default follows the CPUs the process may run on (a CPUAffinity= or
 * cpuset shrinks it), not the machine's. */
static void test_default_executions_follow_affinity(void **state) {
        cpu_set_t all, one;
        assert_int_equal(sched_getaffinity(0, sizeof all, &all), 0);
        assert_int_equal(config_default_executions(), (unsigned)CPU_COUNT(&all) * CONFIG_EXECUTIONS_PER_CPU);
        CPU_ZERO(&one);
        for (int i = 0; i < CPU_SETSIZE; i++)
                if (CPU_ISSET(i, &all)) {
                        CPU_SET(i, &one);
                        break;
                }
        assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0);
        unsigned n = config_default_executions();
        assert_int_equal(sched_setaffinity(0, sizeof all, &all), 0);
        assert_int_equal(n, CONFIG_EXECUTIONS_PER_CPU);
}

static void test_all_keys(void **state) {
        struct config *c;
        char err[256];
        const char *t = "{\"enabled\": true, \"python_bin\": \"/opt/py/bin/python3\", "
                        "\"sandbox_uid_range\": [100000, 200000], \"limits\": {\"CPU\": 7, \"OUTPUT\": 1000}, "
                        "\"limit_overrides\": {\"heavy\": {\"REALTIME\": 20, \"VMEM\": 1073741824}}, "
                        "\"apparmor\": \"require\", \"apparmor_profile\": \"p1\", \"require_private_network\": false, "
                        "\"max_request_bytes\": 2048, \"request_timeout_s\": 3, \"state_dir\": \"/x/y\", "
                        "\"health_max_age_s\": 60, \"sandbox_required_modules\": [\"random2\", \"chem.chemcalc\"], \"max_concurrent_executions\": 3, \"queue_timeout_s\": 0, "
                        "\"metrics_route\": false}";
        assert_int_equal(parse(t, &c, err), 0);
        assert_true(c->enabled);
        assert_string_equal(c->python_bin, "/opt/py/bin/python3");
        assert_int_equal(c->uid_min, 100000);
        assert_int_equal(c->uid_max, 200000);
        assert_int_equal(c->apparmor, APPARMOR_REQUIRE);
        assert_string_equal(c->apparmor_profile, "p1");
        assert_false(c->require_private_network);
        assert_int_equal(c->max_request_bytes, 2048);
        assert_int_equal(c->request_timeout_s, 3);
        assert_string_equal(c->state_dir, "/x/y");
        assert_int_equal(c->health_max_age_s, 60);
        assert_int_equal(c->n_required_modules, 2);
        assert_string_equal(c->required_modules[0], "random2");
        assert_string_equal(c->required_modules[1], "chem.chemcalc");
        assert_int_equal(c->max_concurrent_executions, 3);
        assert_int_equal(c->queue_timeout_s, 0);
        assert_false(c->metrics_route);

        struct limits l;
        config_resolve_limits(c, NULL, &l);
        assert_int_equal(l.v[LIMIT_CPU], 7);
        assert_int_equal(l.v[LIMIT_REALTIME], 5);
        assert_int_equal(l.v[LIMIT_OUTPUT], 1000);
        config_resolve_limits(c, "heavy", &l);
        assert_int_equal(l.v[LIMIT_CPU], 7);           /* from limits */
        assert_int_equal(l.v[LIMIT_REALTIME], 20);     /* overridden */
        assert_int_equal(l.v[LIMIT_VMEM], 1073741824); /* overridden */
        assert_int_equal(l.v[LIMIT_NPROC], 15);        /* default */
        config_resolve_limits(c, "unknown-context", &l);
        assert_int_equal(l.v[LIMIT_REALTIME], 5);
        /* A name is its bytes: "heavy" followed by a NUL and more is
         * another, unknown, context (C strings would see "heavy"). */
        config_resolve_limits_n(c, "heavy\0x", 7, &l);
        assert_int_equal(l.v[LIMIT_REALTIME], 5);
        config_resolve_limits_n(c, "heavy\0x", 5, &l);
        assert_int_equal(l.v[LIMIT_REALTIME], 20);
        config_resolve_limits_n(c, "heav", 4, &l);
        assert_int_equal(l.v[LIMIT_REALTIME], 5);
        config_free(c);
}

/* codejail's five limits take 0 as codejail means it (codejail-service(7) "Limits"):
 * an operator's upstream limits parse unchanged, overrides included. */
static void test_limits_zero(void **state) {
        struct config *c;
        char err[256];
        assert_int_equal(parse("{\"limits\": {\"CPU\": 0, \"REALTIME\": 0, \"VMEM\": 0, \"FSIZE\": 0, \"NPROC\": 0}, "
                               "\"limit_overrides\": {\"c\": {\"VMEM\": 0, \"CPU\": 2}}}", &c, err), 0);
        struct limits l;
        config_resolve_limits(c, NULL, &l);
        for (int id = LIMIT_CPU; id <= LIMIT_NPROC; id++)
                assert_int_equal(l.v[id], 0);
        assert_int_equal(l.v[LIMIT_TMPFS], 16 << 20);
        config_resolve_limits(c, "c", &l);
        assert_int_equal(l.v[LIMIT_CPU], 2);
        assert_int_equal(l.v[LIMIT_VMEM], 0);
        config_free(c);
        for (int id = 0; id < _LIMIT_MAX; id++)
                assert_int_equal(limit_valid((enum limit_id)id, 0), id != LIMIT_TMPFS && id != LIMIT_OUTPUT);
        assert_false(limit_valid(LIMIT_CPU, -1));
}

/* Each bad config must fail and the message must name the key. */
static void test_errors_name_the_key(void **state) {
        static const struct {
                const char *text, *needle;
        } cases[] = {
                { "{\"enabeld\": true}", "'enabeld': unknown key" },
                { "{\"enabled\": \"yes\"}", "'enabled'" },
                { "{\"python_bin\": \"python3\"}", "'python_bin'" },
                { "{\"python_bin\": 3}", "'python_bin'" },
                { "{\"limits\": {\"CPU\": \"3\"}}", "'limits.CPU'" },
                { "{\"limits\": {\"CPU\": -1}}", "'limits.CPU': -1 is out of range [0, 3600]" },
                { "{\"limits\": {\"TMPFS\": 0}}", "'limits.TMPFS': 0 is out of range [1, " },
                { "{\"limits\": {\"OUTPUT\": 0}}", "'limits.OUTPUT': 0 is out of range [1, " },
                { "{\"limits\": {\"REALTIME\": 3601}}", "'limits.REALTIME'" },
                { "{\"limits\": {\"MEMORY\": 1}}", "'limits.MEMORY': unknown limit" },
                { "{\"limits\": []}", "'limits'" },
                { "{\"limit_overrides\": {\"ctx\": {\"NPROC\": -1}}}", "'limit_overrides.ctx.NPROC'" },
                { "{\"limit_overrides\": []}", "'limit_overrides'" },
                { "{\"apparmor\": \"sometimes\"}", "'apparmor'" },
                { "{\"apparmor_profile\": \"a b\"}", "'apparmor_profile'" },
                { "{\"sandbox_uid_range\": [0, 100]}", "'sandbox_uid_range[0]'" },
                { "{\"sandbox_uid_range\": [100000, 100010]}", "'sandbox_uid_range'" },
                { "{\"sandbox_uid_range\": 5}", "'sandbox_uid_range'" },
                { "{\"max_request_bytes\": 1}", "'max_request_bytes'" },
                { "{\"request_timeout_s\": 0}", "'request_timeout_s'" },
                { "{\"state_dir\": \"rel\"}", "'state_dir'" },
                { "{\"health_max_age_s\": true}", "'health_max_age_s'" },
                { "{\"require_private_network\": 1}", "'require_private_network'" },
                { "{\"metrics_route\": \"yes\"}", "'metrics_route'" },
                { "{\"sandbox_required_modules\": \"numpy\"}", "'sandbox_required_modules'" },
                { "{\"sandbox_required_modules\": [\"numpy\", 5]}", "'sandbox_required_modules[1]'" },
                { "{\"sandbox_required_modules\": [\"os; import sys\"]}", "'sandbox_required_modules[0]'" },
                { "{\"sandbox_required_modules\": [\"a..b\"]}", "'sandbox_required_modules[0]'" },
                { "{\"sandbox_required_modules\": [\"9lives\"]}", "'sandbox_required_modules[0]'" },
                { "{\"sandbox_required_modules\": [\"x.\"]}", "'sandbox_required_modules[0]'" },
                { "{\"max_concurrent_executions\": 0}", "'max_concurrent_executions': 0 is out of range [1, 1024]" },
                { "{\"max_concurrent_executions\": 1025}", "'max_concurrent_executions'" },
                { "{\"max_concurrent_executions\": \"8\"}", "'max_concurrent_executions': expected an integer" },
                { "{\"max_concurrent_executions\": 2.5}", "'max_concurrent_executions': expected an integer" },
                { "{\"max_concurrent_executions\": null}", "'max_concurrent_executions'" },
                { "{\"queue_timeout_s\": -1}", "'queue_timeout_s': -1 is out of range [0, 3600]" },
                { "{\"queue_timeout_s\": 3601}", "'queue_timeout_s'" },
                { "{\"queue_timeout_s\": 3.5}", "'queue_timeout_s': expected an integer" },
                { "{\"queue_timeout_s\": false}", "'queue_timeout_s'" },
                { "{\"enabled\": true, \"enabled\": false}", "duplicate" },
                { "[]", "JSON object" },
                { "{", "line 1" },
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                struct config *c = NULL;
                char err[256] = "";
                int r = parse(cases[i].text, &c, err);
                if (r >= 0 || !strstr(err, cases[i].needle))
                        fail_msg("case %zu %s: r=%d err=%s (wanted '%s')", i, cases[i].text, r, err, cases[i].needle);
                assert_null(c);
        }
}

static void test_load_lookup_order(void **state) {
        char dir[] = "/tmp/test-conf-XXXXXX", path[256], err[512];
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/codejail.json", dir);
        FILE *f = fopen(path, "w");
        fputs("{\"enabled\": true}", f);
        fclose(f);
        struct config *c = NULL;

        setenv("CREDENTIALS_DIRECTORY", dir, 1);
        assert_int_equal(config_load(NULL, &c, err, sizeof err), 0);
        assert_true(c->enabled);
        assert_string_equal(c->path, path);
        config_free(c);

        /* An explicit path wins; a missing one is an error naming it. */
        assert_true(config_load("/nonexistent/cj.json", &c, err, sizeof err) < 0);
        assert_non_null(strstr(err, "/nonexistent/cj.json"));
        unsetenv("CREDENTIALS_DIRECTORY");
        unlink(path);
        rmdir(dir);
}

/* The jwt_* keys; off by default; all or nothing, the
 * service client's user included; by default only its client-credentials
 * grant; only the RS family; the key set read at load time, from a path
 * or a credential. */
static void test_jwt(void **state) {
        struct config *c = NULL;
        char err[512];
        assert_int_equal(parse("{}", &c, err), 0);
        assert_false(config_auth_enabled(c));
        assert_int_equal(c->jwt.algorithms, AUTH_ALGS_ALL);
        assert_int_equal(c->jwt.clock_skew_s, 60);
        /* By default a token minted for a person is refused. */
        assert_int_equal(c->jwt.grant_types, AUTH_GRANT_CLIENT_CREDENTIALS);
        config_free(c);

        /* The guide's configuration: the three the LMS names, and the user
         * of the OAuth client registered for this service. */
        assert_int_equal(parse("{\"jwt_jwks_file\": \"lms-jwks.json\", \"jwt_issuers\": \"https://lms/oauth2\", "
                               "\"jwt_audiences\": \"openedx\", \"jwt_usernames\": \"codejail_service_worker\"}",
                               &c, err), 0);
        assert_int_equal(c->jwt.n_usernames, 1);
        assert_string_equal(c->jwt.usernames[0], "codejail_service_worker");
        assert_int_equal(c->jwt.grant_types, AUTH_GRANT_CLIENT_CREDENTIALS);
        config_free(c);

        assert_int_equal(parse("{\"jwt_jwks_file\": \"lms-jwks.json\", \"jwt_issuers\": \"https://lms/oauth2\", "
                               "\"jwt_audiences\": [\"a\", \"b\"], \"jwt_algorithms\": [\"RS512\"], "
                               "\"jwt_usernames\": [\"cj\", \"staff\"], "
                               "\"jwt_grant_types\": [\"client-credentials\", \"password\"], "
                               "\"jwt_clock_skew_s\": 5, \"jwt_required_claims\": {\"scopes\": \"read\", "
                               "\"sub\": true}}", &c, err), 0);
        assert_true(config_auth_enabled(c));
        assert_null(c->jwt.keys); /* config_parse reads no file */
        assert_int_equal(c->jwt.n_issuers, 1);
        assert_string_equal(c->jwt.issuers[0], "https://lms/oauth2");
        assert_int_equal(c->jwt.n_audiences, 2);
        assert_int_equal(c->jwt.algorithms, AUTH_RS512);
        assert_int_equal(c->jwt.clock_skew_s, 5);
        assert_int_equal(c->jwt.n_usernames, 2);
        assert_int_equal(c->jwt.grant_types, AUTH_GRANT_CLIENT_CREDENTIALS | AUTH_GRANT_PASSWORD);
        assert_int_equal(c->jwt.n_claims, 2);
        assert_string_equal(c->jwt.claims[0].name, "scopes");
        assert_string_equal(c->jwt.claims[0].value, "read");
        assert_null(c->jwt.claims[1].value);
        config_free(c);

        static const struct {
                const char *text, *needle;
        } bad[] = {
                { "{\"jwt_jwks_file\": \"/k.json\"}", "needs jwt_issuers, jwt_audiences and jwt_usernames" },
                { "{\"jwt_jwks_file\": \"/k.json\", \"jwt_issuers\": \"i\"}", "needs jwt_issuers, jwt_audiences" },
                /* the three keys the LMS names are not enough: they hold
                 * for a learner's login cookie as well */
                { "{\"jwt_jwks_file\": \"/k.json\", \"jwt_issuers\": \"i\", \"jwt_audiences\": \"a\"}",
                  "and jwt_usernames (the user of the LMS's OAuth client for this service)" },
                { "{\"jwt_issuers\": \"i\", \"jwt_audiences\": \"a\"}", "without 'jwt_jwks_file'" },
                { "{\"jwt_usernames\": \"u\"}", "without 'jwt_jwks_file'" },
                { "{\"jwt_grant_types\": [\"password\"]}", "without 'jwt_jwks_file'" },
                { "{\"jwt_usernames\": []}", "key 'jwt_usernames'" },
                /* jansson refuses a NUL anywhere in the configuration */
                { "{\"jwt_usernames\": [\"a\\u0000b\"]}", "\\u0000 is not allowed" },
                { "{\"jwt_grant_types\": []}", "key 'jwt_grant_types'" },
                { "{\"jwt_grant_types\": \"password\"}", "key 'jwt_grant_types'" },
                { "{\"jwt_grant_types\": [\"client_credentials\"]}", "the OAuth request's spelling" },
                { "{\"jwt_grant_types\": [\"client-credentials\", \"refresh\"]}", "key 'jwt_grant_types[1]'" },
                { "{\"jwt_required_claims\": {\"preferred_username\": \"cj\"}}", "say it with jwt_usernames" },
                { "{\"jwt_required_claims\": {\"grant_type\": \"password\"}}", "say it with jwt_grant_types" },
                { "{\"jwt_jwks_file\": \"../k.json\"}", "key 'jwt_jwks_file'" },
                { "{\"jwt_jwks_file\": \"k/x.json\"}", "key 'jwt_jwks_file'" },
                { "{\"jwt_jwks_file\": \"\"}", "key 'jwt_jwks_file'" },
                { "{\"jwt_issuers\": []}", "key 'jwt_issuers'" },
                { "{\"jwt_audiences\": [\"\"]}", "key 'jwt_audiences'" },
                { "{\"jwt_algorithms\": [\"none\"]}", "never none, never HMAC" },
                { "{\"jwt_algorithms\": [\"HS256\"]}", "key 'jwt_algorithms[0]'" },
                { "{\"jwt_algorithms\": [\"RS256\", \"ES256\"]}", "key 'jwt_algorithms[1]'" },
                { "{\"jwt_algorithms\": []}", "key 'jwt_algorithms'" },
                { "{\"jwt_clock_skew_s\": 601}", "key 'jwt_clock_skew_s'" },
                { "{\"jwt_required_claims\": {\"scope\": 1}}", "key 'jwt_required_claims.scope'" },
                { "{\"jwt_required_claims\": {\"scope\": false}}", "key 'jwt_required_claims.scope'" },
        };
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
                c = NULL;
                int r = parse(bad[i].text, &c, err);
                if (r >= 0 || !strstr(err, bad[i].needle))
                        fail_msg("bad[%zu] %s: r=%d err=%s (wanted '%s')", i, bad[i].text, r, err, bad[i].needle);
                assert_null(c);
        }

        /* Loaded: as a credential, and by absolute path; a broken key set
         * is a config error naming the key and the file. */
        char dir[] = "/tmp/test-conf-XXXXXX", path[640], cfg[256], jwks[256];
        assert_non_null(mkdtemp(dir));
        snprintf(cfg, sizeof cfg, "%s/codejail.json", dir);
        snprintf(jwks, sizeof jwks, "%s/lms-jwks.json", dir);
        snprintf(path, sizeof path, "cp %s/auth/jwks.json %s", TEST_DATA_DIR, jwks);
        assert_int_equal(system(path), 0);
        FILE *f = fopen(cfg, "w");
        fputs("{\"jwt_jwks_file\": \"lms-jwks.json\", \"jwt_issuers\": \"i\", \"jwt_audiences\": \"a\", \"jwt_usernames\": \"u\"}", f);
        fclose(f);
        unsetenv("CREDENTIALS_DIRECTORY");
        assert_true(config_load(cfg, &c, err, sizeof err) < 0);
        assert_non_null(strstr(err, "no $CREDENTIALS_DIRECTORY"));
        setenv("CREDENTIALS_DIRECTORY", dir, 1);
        assert_int_equal(config_load(cfg, &c, err, sizeof err), 0);
        assert_int_equal(auth_keys_count(c->jwt.keys), 2);
        config_free(c);
        unsetenv("CREDENTIALS_DIRECTORY");
        f = fopen(cfg, "w");
        fprintf(f, "{\"jwt_jwks_file\": \"%s\", \"jwt_issuers\": \"i\", \"jwt_audiences\": \"a\", \"jwt_usernames\": \"u\"}",
                jwks);
        fclose(f);
        assert_int_equal(config_load(cfg, &c, err, sizeof err), 0);
        assert_int_equal(auth_keys_count(c->jwt.keys), 2);
        config_free(c);
        f = fopen(jwks, "w");
        fputs("{\"keys\": []}", f);
        fclose(f);
        c = NULL;
        assert_true(config_load(cfg, &c, err, sizeof err) < 0);
        assert_null(c);
        assert_non_null(strstr(err, "jwt_jwks_file"));
        assert_non_null(strstr(err, "no RSA signing key"));
        unlink(jwks);
        assert_int_equal(config_load(cfg, &c, err, sizeof err), -ENOENT);
        unlink(cfg);
        rmdir(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_default_executions_follow_affinity),
                cmocka_unit_test(test_all_keys),
                cmocka_unit_test(test_limits_zero),
                cmocka_unit_test(test_errors_name_the_key),
                cmocka_unit_test(test_load_lookup_order),
                cmocka_unit_test(test_jwt),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
