/* SPDX-License-Identifier: Apache-2.0 */
/* The parts of auth.h that need no cryptography: the algorithm and grant
 * type names and freeing a policy. In codejaild and in the plugin alike. */
#include <stdlib.h>

#include "auth.h"
#include "macro.h"

unsigned auth_alg_bit(const char *name) {
        if (streq_safe(name, "RS256"))
                return AUTH_RS256;
        if (streq_safe(name, "RS384"))
                return AUTH_RS384;
        if (streq_safe(name, "RS512"))
                return AUTH_RS512;
        return 0;
}

unsigned auth_grant_bit(const char *name) {
        static const struct {
                const char *name;
                unsigned bit;
        } grants[] = {
                { "client-credentials", AUTH_GRANT_CLIENT_CREDENTIALS },
                { "password", AUTH_GRANT_PASSWORD },
                { "authorization-code", AUTH_GRANT_AUTHORIZATION_CODE },
                { "implicit", AUTH_GRANT_IMPLICIT },
                { "openid-hybrid", AUTH_GRANT_OPENID_HYBRID },
        };
        for (size_t i = 0; i < ELEMENTSOF(grants); i++)
                if (streq_safe(name, grants[i].name))
                        return grants[i].bit;
        return 0;
}

void auth_policy_done(struct auth_policy *p) {
        if (!p)
                return;
        auth_keys_free(p->keys);
        for (size_t i = 0; i < p->n_issuers; i++)
                free(p->issuers[i]);
        free(p->issuers);
        for (size_t i = 0; i < p->n_audiences; i++)
                free(p->audiences[i]);
        free(p->audiences);
        for (size_t i = 0; i < p->n_usernames; i++)
                free(p->usernames[i]);
        free(p->usernames);
        for (size_t i = 0; i < p->n_claims; i++) {
                free(p->claims[i].name);
                free(p->claims[i].value);
        }
        free(p->claims);
        *p = (struct auth_policy){ 0 };
}
