/* SPDX-License-Identifier: Apache-2.0 */
/* codejail's safe_exec semantics on top of the jail: build the wrapper's
 * stdin, run, and turn the outcome into the response (codejail-service(7) "API",
 * "Execution semantics"). */
#pragma once

#include <jansson.h>

#include "conf.h"
#include "jail.h"
#include "payload.h"

/* Who runs the jail. In a serving instance the unprivileged side builds
 * the request and interprets the outcome, and `run` hands the request to
 * the privileged side (privsep.c); the selfcheck and the unit tests run
 * the jail in-process (NULL: jail_run / jail_result_done). `done` finishes
 * what run left pending (the teardown) and must free res. */
struct safeexec_runner {
        int (*run)(void *userdata, const struct config *cfg, const struct jail_request *req,
                   struct jail_result *res, struct jail_error *err);
        void (*done)(void *userdata, struct jail_result *res);
        void *userdata;
};

struct safeexec_outcome {
        json_t *response;       /* {"globals_dict": G} or {"globals_dict": G_in, "emsg": E} */
        const char *log_status; /* "executed.success" / "executed.error" */
        struct jail_result jail;
        struct limits limits;
        const struct safeexec_runner *runner; /* NULL: in-process */
};

/* Returns 0 (outcome filled) or -errno for a service/jail set-up failure
 * (caller answers 500; jerr names the step). */
int safeexec_run(const struct config *cfg, const struct payload *p, const struct jail_file *files,
                 size_t n_files, struct safeexec_outcome *out, struct jail_error *jerr);
/* The same through runner (NULL: in-process). */
int safeexec_run_with(const struct safeexec_runner *runner, const struct config *cfg, const struct payload *p,
                      const struct jail_file *files, size_t n_files, struct safeexec_outcome *out,
                      struct jail_error *jerr);
/* The jail's raw result -> the response (out->jail already filled): the
 * untrusted output parsed here, on the side that holds no capability.
 * 0 or -ENOMEM (jerr says "response"). */
int safeexec_interpret(const struct payload *p, struct safeexec_outcome *out, struct jail_error *jerr);
void safeexec_done(struct safeexec_outcome *out);
