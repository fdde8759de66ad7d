/* SPDX-License-Identifier: Apache-2.0 */
/* codejail's safe_exec on top of the jail (README "API", "Execution
 * semantics"): stdin = json.dumps([code, json_safe(globals_dict)]); on exit
 * status 0 and a JSON object on stdout, globals_dict.update(that); otherwise
 * the emsg. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "payload.h"
#include "pyjson.h"
#include "pyrepr.h"
#include "safeexec.h"

/* Output nesting accepted from the wrapper (Python itself recurses ~1000). */
#define SAFEEXEC_MAX_DEPTH 1000

/* json_safe() of globals that came from JSON: every value is already a
 * JSON-safe type and survives the round trip, so only __builtins__ goes. */
static json_t *json_safe(json_t *globals) {
        json_t *copy = pyjson_object_copy(globals);
        if (copy)
                json_object_deln(copy, "__builtins__", strlen("__builtins__"));
        return copy;
}

static char *build_stdin(const struct payload *p, size_t *len) {
        json_t *arr = json_array();
        json_t *code = json_stringn_nocheck(p->code, p->code_len);
        json_t *g = json_safe(p->globals);
        char *s = NULL;
        if (arr && code && g && json_array_append_new(arr, code) == 0) {
                code = NULL;
                if (json_array_append_new(arr, g) == 0) {
                        g = NULL;
                        s = pyjson_dumps(arr, len);
                }
        }
        json_decref(code);
        json_decref(g);
        json_decref(arr);
        return s;
}

/* "Couldn't execute jailed code: stdout: b'..', stderr: b'..' with status code: N" */
static char *error_message(const struct jail_result *jr) {
        _cleanup_free_ char *o = pyrepr_bytes(jr->out, jr->out_len);
        _cleanup_free_ char *e = pyrepr_bytes(jr->err, jr->err_len);
        char *m = NULL;
        if (!o || !e)
                return NULL;
        if (asprintf(&m, "Couldn't execute jailed code: stdout: %s, stderr: %s with status code: %d", o, e,
                     jr->status) < 0)
                return NULL;
        return m;
}

/* globals_dict.update(output): existing keys keep their position. */
static json_t *merge(json_t *in, json_t *outobj) {
        json_t *g = pyjson_object_copy(in);
        const char *k;
        size_t klen;
        json_t *v;
        if (!g)
                return NULL;
        json_object_keylen_foreach(outobj, k, klen, v) {
                if (json_object_setn_nocheck(g, k, klen, v) < 0) {
                        json_decref(g);
                        return NULL;
                }
        }
        return g;
}

static int run_local(void *userdata, const struct config *cfg, const struct jail_request *req,
                     struct jail_result *res, struct jail_error *err) {
        (void)userdata;
        return jail_run(cfg, req, res, err);
}

static void done_local(void *userdata, struct jail_result *res) {
        (void)userdata;
        jail_result_done(res);
}

static const struct safeexec_runner local_runner = { .run = run_local, .done = done_local };

int safeexec_run(const struct config *cfg, const struct payload *p, const struct jail_file *files, size_t n_files,
                 struct safeexec_outcome *out, struct jail_error *jerr) {
        return safeexec_run_with(NULL, cfg, p, files, n_files, out, jerr);
}

int safeexec_run_with(const struct safeexec_runner *runner, const struct config *cfg, const struct payload *p,
                      const struct jail_file *files, size_t n_files, struct safeexec_outcome *out,
                      struct jail_error *jerr) {
        memset(out, 0, sizeof *out);
        out->runner = runner ? runner : &local_runner;
        config_resolve_limits_n(cfg, p->limits_context, p->limits_context_len, &out->limits);

        size_t in_len;
        _cleanup_free_ char *in = build_stdin(p, &in_len);
        if (!in) {
                snprintf(jerr->step, sizeof jerr->step, "stdin");
                jerr->error = ENOMEM;
                return -ENOMEM;
        }
        struct jail_request req = {
                .stdin_data = in, .stdin_len = in_len, .n_python_path = p->n_python_path,
                .files = files, .n_files = n_files, .limits = out->limits,
        };
        int r = out->runner->run(out->runner->userdata, cfg, &req, &out->jail, jerr);
        if (r < 0)
                return r;
        return safeexec_interpret(p, out, jerr);
}

int safeexec_interpret(const struct payload *p, struct safeexec_outcome *out, struct jail_error *jerr) {
        json_t *globals = NULL;
        _cleanup_free_ char *emsg = NULL;
        if (out->jail.status == 0) {
                struct pyjson_error perr;
                json_t *o = pyjson_loads(out->jail.out, out->jail.out_len, SAFEEXEC_MAX_DEPTH, &perr);
                if (o && json_is_object(o) && !pyjson_is_raw(o))
                        globals = merge(p->globals, o);
                else
                        emsg = strdup("Sandboxed code produced corrupted stdout.");
                json_decref(o);
        } else
                emsg = error_message(&out->jail);

        if (emsg)
                globals = json_incref(p->globals);
        out->response = json_object();
        if (!globals || !out->response || json_object_set_new(out->response, "globals_dict", globals) < 0 ||
            (emsg && json_object_set_new(out->response, "emsg", json_string(emsg)) < 0)) {
                if (out->response == NULL || !json_object_get(out->response, "globals_dict"))
                        json_decref(globals);
                safeexec_done(out);
                snprintf(jerr->step, sizeof jerr->step, "response");
                jerr->error = ENOMEM;
                return -ENOMEM;
        }
        out->log_status = emsg ? "executed.error" : "executed.success";
        return 0;
}

void safeexec_done(struct safeexec_outcome *out) {
        json_decref(out->response);
        out->response = NULL;
        if (out->runner)
                out->runner->done(out->runner->userdata, &out->jail);
        else
                jail_result_done(&out->jail);
        out->runner = NULL;
}
