/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: the Authorization header (auth.c). Any value is
 * either a caller whose issuer is one the policy accepts, or a refusal
 * with a log status and a reason; never a crash, a leak, or a reason that
 * echoes the input. The same bytes are also tried as a JWK set. The
 * policy holds tests/data/auth/jwks.json and is checked at the time the
 * tokens there were made for (their seeds reach the claim checks). */
#include <errno.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"

static struct auth_policy policy;

static void load_policy(void) {
        static char *issuers[] = { "https://lms.example.com/oauth2" }, *audiences[] = { "codejail-test" };
        static char *usernames[] = { "codejail_worker" };
        static struct auth_claim claims[] = { { "scopes", "read" } };
        char path[4096], here[4096], text[65536], err[256];
        snprintf(here, sizeof here, "%s", __FILE__);
        snprintf(path, sizeof path, "%s/../data/auth/jwks.json", dirname(here));
        FILE *f = fopen(path, "r");
        size_t n = f ? fread(text, 1, sizeof text, f) : 0;
        if (!f || auth_keys_parse(text, n, &policy.keys, err, sizeof err) < 0) {
                fprintf(stderr, "fuzz-auth: %s: %s\n", path, f ? err : "cannot open");
                abort();
        }
        fclose(f);
        policy.issuers = issuers, policy.n_issuers = 1;
        policy.audiences = audiences, policy.n_audiences = 1;
        policy.usernames = usernames, policy.n_usernames = 1;
        policy.grant_types = AUTH_GRANT_CLIENT_CREDENTIALS;
        policy.claims = claims, policy.n_claims = 1;
        policy.algorithms = AUTH_ALGS_ALL;
        policy.clock_skew_s = 60;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (!policy.keys)
                load_policy();
        char *value = malloc(size + 1);
        memcpy(value, data, size);
        value[size] = 0;

        struct auth_caller caller;
        struct auth_error err;
        int r = auth_check(&policy, value, 1700000000, &caller, &err);
        if (r == 0) {
                if (strcmp(caller.issuer, policy.issuers[0]) != 0)
                        abort();
        } else if (r == -EACCES) {
                if (!err.log_status || !err.reason[0])
                        abort();
                /* A reason never carries more than a short, cleaned excerpt
                 * (an embedded NUL would make the tail empty: skip). */
                if (size > 70 && strlen(value + size - 64) == 64 && strstr(err.reason, value + size - 64))
                        abort();
        } else if (r != -ENOMEM)
                abort();

        struct auth_keys *k = NULL;
        char msg[256] = "";
        r = auth_keys_parse(value, size, &k, msg, sizeof msg);
        if ((r == 0) != (k != NULL) || (r == -EINVAL && !msg[0]) || (r == 0 && auth_keys_count(k) == 0))
                abort();
        auth_keys_free(k);
        free(value);
        return 0;
}
