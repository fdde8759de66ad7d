/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: configuration loading (conf.c). Any text either gives a
 * config whose every limit is within the bounds the jail's arithmetic
 * relies on, or an error message; never a crash or a leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = malloc(size ? size : 1);
        memcpy(text, data, size);
        char err[512] = "";
        struct config *c = NULL;
        int r = config_parse(text, size, &c, err, sizeof err);
        if (r == 0) {
                if (!c || !c->python_bin || !c->state_dir || c->uid_min > c->uid_max)
                        abort();
                struct limits l;
                config_resolve_limits(c, NULL, &l);
                for (size_t i = 0; i < c->n_overrides; i++)
                        config_resolve_limits(c, c->overrides[i].context, &l);
                config_resolve_limits(c, "no-such-context", &l);
                for (int i = 0; i < _LIMIT_MAX; i++)
                        if (l.v[i] < 0)
                                abort();
                if (c->request_timeout_s <= 0 || c->max_request_bytes == 0)
                        abort();
                config_free(c);
        } else {
                if (c || err[0] == 0)
                        abort();
        }
        free(text);
        return 0;
}
