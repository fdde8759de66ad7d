/* SPDX-License-Identifier: Apache-2.0 */
/* codejail's safe_exec semantics on top of the jail: build the wrapper's
 * stdin, run, and turn the outcome into the response (README "API",
 * "Execution semantics"). */
#pragma once

#include <jansson.h>

#include "conf.h"
#include "jail.h"
#include "payload.h"

struct safeexec_outcome {
        json_t *response;       /* {"globals_dict": G} or {"globals_dict": G_in, "emsg": E} */
        const char *log_status; /* "executed.success" / "executed.error" */
        struct jail_result jail;
        struct limits limits;
};

/* Returns 0 (outcome filled) or -errno for a service/jail set-up failure
 * (caller answers 500; jerr names the step). */
int safeexec_run(const struct config *cfg, const struct payload *p, const struct jail_file *files,
                 size_t n_files, struct safeexec_outcome *out, struct jail_error *jerr);
void safeexec_done(struct safeexec_outcome *out);
