/* SPDX-License-Identifier: Apache-2.0 */
/* codejail's safe_exec semantics on top of the jail: build the wrapper's
 * stdin, run, and turn the outcome into the response (codejail-service(7) "API",
 * "Execution semantics"). */
#pragma once

#include "conf.h"
#include "jail.h"
#include "jsondoc.h"
#include "payload.h"

/* Who runs the jail. In a serving instance the unprivileged side builds
 * the request and interprets the outcome, and `run` hands the request to
 * the privileged side (privsep.c); the selfcheck and the unit tests run
 * the jail in-process (NULL: jail_run / jail_result_done). `release` ends
 * what run left pending -- the jail's teardown -- and leaves res readable
 * (the answer is written from it); `done` releases if not yet and frees
 * res. */
struct safeexec_runner {
        int (*run)(void *userdata, const struct config *cfg, const struct jail_request *req,
                   struct jail_result *res, struct jail_error *err);
        void (*release)(void *userdata, struct jail_result *res);
        void (*done)(void *userdata, struct jail_result *res);
        void *userdata;
};

struct safeexec_merge;

/* An execution's outcome. The answer is not held as a tree nor as text:
 * safeexec_write() writes it from the input payload and the captured
 * output, each kept as it came (jsondoc.h). */
struct safeexec_outcome {
        const char *log_status; /* "executed.success" / "executed.error" */
        struct jail_result jail;
        struct limits limits;
        const struct safeexec_runner *runner; /* NULL: in-process */
        const struct payload *payload;
        bool success;             /* stdout was a JSON object: globals_dict.update() of it */
        struct jsondoc output;    /* that object (its text is jail.out) */
        struct safeexec_merge *merge;
        const char *emsg;         /* !success: a fixed emsg, or NULL for "Couldn't execute ..." */
        bool released;
};

/* Returns 0 (outcome filled) or -errno for a service/jail set-up failure
 * (caller answers 500; jerr names the step). p must outlive out. */
int safeexec_run(const struct config *cfg, const struct payload *p, const struct jail_file *files,
                 size_t n_files, struct safeexec_outcome *out, struct jail_error *jerr);
/* The same through runner (NULL: in-process), for client (NULL: none;
 * jail_request). -ECONNABORTED: the client left while its program ran,
 * the execution was stopped (out->jail holds what it did; no answer). */
int safeexec_run_with(const struct safeexec_runner *runner, const struct config *cfg, const struct payload *p,
                      const struct jail_file *files, size_t n_files, struct admit_client *client,
                      struct safeexec_outcome *out, struct jail_error *jerr);
/* The jail's raw result -> the outcome (out->jail already filled): the
 * untrusted output validated here, on the side that holds no capability.
 * Costs a small multiple of the output (no tree): its objects that repeat
 * a key, and for a success the input globals' top-level keys. 0 or
 * -ENOMEM (jerr says "response"). */
int safeexec_interpret(const struct payload *p, struct safeexec_outcome *out, struct jail_error *jerr);

/* The answer's body, {"globals_dict": G} or {"globals_dict": G_in,
 * "emsg": E}, as json.dumps() writes it, into o (o->error on failure).
 * Deterministic: a counting pass gives the Content-Length of the writing
 * pass. */
void safeexec_write(const struct safeexec_outcome *out, struct jsondoc_out *o);
/* The same into a malloc'd string (tests, the selfcheck). */
char *safeexec_render(const struct safeexec_outcome *out, size_t *len);

/* The execution is over: its jail torn down (runner->release); the answer
 * can still be written. Idempotent. */
void safeexec_release(struct safeexec_outcome *out);
void safeexec_done(struct safeexec_outcome *out);
