/* SPDX-License-Identifier: Apache-2.0 */
/* codejail's safe_exec on top of the jail (codejail-service(7) "API",
 * "Execution semantics"): stdin = json.dumps([code, json_safe(globals_dict)]); on exit
 * status 0 and a JSON object on stdout, globals_dict.update(that); otherwise
 * the emsg.
 *
 * Nothing here builds a tree of the attacker's values: the payload and the
 * program's stdout are read as their text (jsondoc.h), and the answer is
 * written from them (safeexec_write) -- so what an answer costs is its
 * inputs plus, for a success, an index of the input's top-level keys. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "jsondoc.h"
#include "macro.h"
#include "payload.h"
#include "pyjson.h"
#include "safeexec.h"
#include "siphash.h"

/* Output nesting accepted from the wrapper (Python itself recurses ~1000). */
#define SAFEEXEC_MAX_DEPTH 1000

#define NONE UINT32_MAX

/* json_safe() of globals that came from JSON: every value is already a
 * JSON-safe type and survives the round trip, so only __builtins__ goes. */
static void write_json_safe(const struct jsondoc *d, size_t at, struct jsondoc_out *o) {
        struct jsondoc_iter it;
        size_t key_at, value_at;
        bool first = true;

        jsondoc_out_put(o, "{", 1);
        jsondoc_iter_init(d, at, &it);
        while (jsondoc_iter_next(d, &it, &key_at, &value_at)) {
                if (jsondoc_string_equals(d, key_at, "__builtins__", strlen("__builtins__")))
                        continue;
                if (!first)
                        jsondoc_out_put(o, ", ", 2);
                first = false;
                jsondoc_dump(d, key_at, o);
                jsondoc_out_put(o, ": ", 2);
                it.value_end = jsondoc_dump(d, value_at, o);
        }
        jsondoc_out_put(o, "}", 1);
}

static char *build_stdin(const struct payload *p, size_t *len) {
        struct jsondoc_out o;

        jsondoc_out_init_memory(&o);
        jsondoc_out_put(&o, "[", 1);
        jsondoc_dump(&p->doc, p->code_at, &o);
        jsondoc_out_put(&o, ", ", 2);
        write_json_safe(&p->doc, p->globals_at, &o);
        jsondoc_out_put(&o, "]", 1);
        return jsondoc_out_take(&o, len);
}

/* ---- globals_dict.update(output) ---- */

/* The input globals' distinct top-level keys, in their order (the order
 * the member iterator gives them: write_merged() walks both together), each
 * with the value the output gives it (NONE: keeps its own); and which of
 * the output's distinct members are new keys, appended after. The index
 * is sized once for the keys there are, at a load of 3/4 at most; a slot
 * holds the key's number + 1 in its low kbits and a tag of its SipHash
 * above: 8 bytes a key plus 5.3 of index. */
struct merge_key {
        uint32_t key_at, out_value_at;
};

struct safeexec_merge {
        struct merge_key *keys;
        size_t n;
        uint32_t *index; /* 0 empty, else tag | (key number + 1) */
        uint32_t index_cap;
        unsigned kbits;
        uint8_t *out_new; /* bit i: the output's i-th distinct member is a new key */
};

static uint32_t merge_home(const struct safeexec_merge *m, uint64_t h) {
        return (uint32_t) (((h >> 32) * m->index_cap) >> 32);
}
static uint32_t merge_tag(const struct safeexec_merge *m, uint64_t h) { return (uint32_t) h << m->kbits; }

static void merge_free(struct safeexec_merge *m) {
        if (!m)
                return;
        free(m->keys);
        free(m->index);
        free(m->out_new);
        free(m);
}

/* The key string at at, decoded: in place when it has no escape and no
 * byte past ASCII (then it is its own decoding), else into *owned. */
static const char *key_bytes(const struct jsondoc *d, size_t at, size_t *n, char **owned) {
        const char *t = d->text + at + 1;
        size_t i = 0;
        while (t[i] != '"' && t[i] != '\\' && (unsigned char) t[i] < 0x80)
                i++;
        if (t[i] == '"') {
                *n = i;
                return t;
        }
        *owned = jsondoc_string_dup(d, at, n);
        return *owned;
}

/* The input key equal to bytes (hash h), or NULL. */
static struct merge_key *merge_find(const struct safeexec_merge *m, const struct jsondoc *gin, const char *bytes,
                                    size_t n, uint64_t h) {
        uint32_t tag = merge_tag(m, h), low = (1u << m->kbits) - 1;
        for (uint32_t i = merge_home(m, h); m->index[i]; i = i + 1 == m->index_cap ? 0 : i + 1) {
                struct merge_key *k = &m->keys[(m->index[i] & low) - 1];
                if ((m->index[i] & ~low) == tag && jsondoc_string_equals(gin, k->key_at, bytes, n))
                        return k;
        }
        return NULL;
}

static size_t count_members(const struct jsondoc *d, size_t at) {
        struct jsondoc_iter it;
        size_t k, v, n = 0;
        jsondoc_iter_init(d, at, &it);
        while (jsondoc_iter_next(d, &it, &k, &v))
                n++;
        return n;
}

static struct safeexec_merge *merge_new(const struct jsondoc *gin, size_t gin_at, const struct jsondoc *out) {
        struct safeexec_merge *m = calloc(1, sizeof *m);
        struct jsondoc_iter it;
        size_t key_at, value_at, n_out, i;

        if (!m)
                return NULL;
        size_t n_in = count_members(gin, gin_at);
        /* a key takes 4 bytes of text at least: never reached below 4 GiB */
        if (n_in > (1u << 30))
                goto oom;
        m->index_cap = (uint32_t) (n_in + n_in / 3 + 1);
        m->kbits = 1;
        while ((n_in >> m->kbits) != 0)
                m->kbits++;
        n_out = count_members(out, out->root);
        m->keys = calloc(n_in ? n_in : 1, sizeof *m->keys);
        m->index = calloc(m->index_cap, sizeof *m->index);
        m->out_new = calloc(n_out / 8 + 1, 1);
        if (!m->keys || !m->index || !m->out_new)
                goto oom;

        jsondoc_iter_init(gin, gin_at, &it);
        while (jsondoc_iter_next(gin, &it, &key_at, &value_at)) {
                _cleanup_free_ char *owned = NULL;
                size_t n;
                const char *b = key_bytes(gin, key_at, &n, &owned);
                if (!b)
                        goto oom;
                uint64_t h = siphash_bytes(b, n);
                /* distinct already (the iterator resolves repeated keys) */
                for (i = merge_home(m, h); m->index[i]; i = i + 1 == m->index_cap ? 0 : i + 1)
                        ;
                m->keys[m->n] = (struct merge_key) { (uint32_t) key_at, NONE };
                m->index[i] = merge_tag(m, h) | (uint32_t) ++m->n;
        }

        jsondoc_iter_init(out, out->root, &it);
        for (i = 0; jsondoc_iter_next(out, &it, &key_at, &value_at); i++) {
                _cleanup_free_ char *owned = NULL;
                size_t n;
                const char *b = key_bytes(out, key_at, &n, &owned);
                if (!b)
                        goto oom;
                struct merge_key *k = merge_find(m, gin, b, n, siphash_bytes(b, n));
                if (k)
                        k->out_value_at = (uint32_t) value_at;
                else
                        m->out_new[i / 8] |= (uint8_t) (1u << (i % 8));
        }
        return m;
oom:
        merge_free(m);
        return NULL;
}

static void write_merged(const struct safeexec_outcome *out, struct jsondoc_out *o) {
        const struct jsondoc *gin = &out->payload->doc, *res = &out->output;
        const struct safeexec_merge *m = out->merge;
        struct jsondoc_iter it;
        size_t key_at, value_at;
        bool first = true;

        jsondoc_out_put(o, "{", 1);
        /* the input's members in merge_new()'s order, its keys[i] */
        jsondoc_iter_init(gin, out->payload->globals_at, &it);
        for (size_t i = 0; i < m->n && jsondoc_iter_next(gin, &it, &key_at, &value_at); i++) {
                const struct merge_key *k = &m->keys[i];
                if (!first)
                        jsondoc_out_put(o, ", ", 2);
                first = false;
                jsondoc_dump(gin, k->key_at, o);
                jsondoc_out_put(o, ": ", 2);
                if (k->out_value_at != NONE)
                        jsondoc_dump(res, k->out_value_at, o);
                else
                        it.value_end = jsondoc_dump(gin, value_at, o);
        }
        jsondoc_iter_init(res, res->root, &it);
        for (size_t i = 0; jsondoc_iter_next(res, &it, &key_at, &value_at); i++) {
                if (!(m->out_new[i / 8] & (1u << (i % 8))))
                        continue;
                if (!first)
                        jsondoc_out_put(o, ", ", 2);
                first = false;
                jsondoc_dump(res, key_at, o);
                jsondoc_out_put(o, ": ", 2);
                it.value_end = jsondoc_dump(res, value_at, o);
        }
        jsondoc_out_put(o, "}", 1);
}

/* ---- emsg ---- */

/* repr(bytes), as CPython prints it, inside a JSON string: the repr is
 * ASCII, so JSON escapes only its backslashes and double quotes. */
static void write_bytes_repr(struct jsondoc_out *o, const char *buf, size_t len) {
        static const char hex[] = "0123456789abcdef";
        const unsigned char *s = (const unsigned char *) buf;
        bool squote = memchr(buf, '\'', len) != NULL, dquote = memchr(buf, '"', len) != NULL;
        char quote = squote && !dquote ? '"' : '\'';

        jsondoc_out_puts(o, quote == '"' ? "b\\\"" : "b'");
        for (size_t i = 0; i < len;) {
                unsigned char c = s[i];
                char e[6];

                if (c >= 0x20 && c < 0x7F && c != quote && c != '\\' && c != '"') {
                        size_t run = i + 1;
                        while (run < len && s[run] >= 0x20 && s[run] < 0x7F && s[run] != quote && s[run] != '\\' &&
                               s[run] != '"')
                                run++;
                        jsondoc_out_put(o, s + i, run - i);
                        i = run;
                        continue;
                }
                i++;
                if (c == '"' && quote != '"')
                        jsondoc_out_put(o, "\\\"", 2); /* repr leaves it, JSON escapes it */
                else if (c == quote || c == '\\')
                        jsondoc_out_puts(o, c == '"' ? "\\\\\\\"" : c == '\\' ? "\\\\\\\\" : "\\\\'");
                else if (c == '\t' || c == '\n' || c == '\r') {
                        e[0] = '\\', e[1] = '\\', e[2] = c == '\t' ? 't' : c == '\n' ? 'n' : 'r';
                        jsondoc_out_put(o, e, 3);
                } else {
                        e[0] = '\\', e[1] = '\\', e[2] = 'x', e[3] = hex[c >> 4], e[4] = hex[c & 15];
                        jsondoc_out_put(o, e, 5);
                }
        }
        jsondoc_out_puts(o, quote == '"' ? "\\\"" : "'");
}

/* "Couldn't execute jailed code: stdout: b'..', stderr: b'..' with status code: N" */
static void write_error_message(const struct jail_result *jr, struct jsondoc_out *o) {
        char status[48];

        jsondoc_out_puts(o, "\"Couldn't execute jailed code: stdout: ");
        write_bytes_repr(o, jr->out ? jr->out : "", jr->out ? jr->out_len : 0);
        jsondoc_out_puts(o, ", stderr: ");
        write_bytes_repr(o, jr->err ? jr->err : "", jr->err ? jr->err_len : 0);
        snprintf(status, sizeof status, " with status code: %d\"", jr->status);
        jsondoc_out_puts(o, status);
}

/* ---- running ---- */

static int run_local(void *userdata, const struct config *cfg, const struct jail_request *req,
                     struct jail_result *res, struct jail_error *err) {
        (void)userdata;
        return jail_run(cfg, req, res, err);
}

static void release_local(void *userdata, struct jail_result *res) {
        (void)userdata;
        jail_result_release(res);
}

static void done_local(void *userdata, struct jail_result *res) {
        (void)userdata;
        jail_result_done(res);
}

static const struct safeexec_runner local_runner = { .run = run_local, .release = release_local, .done = done_local };

int safeexec_run(const struct config *cfg, const struct payload *p, const struct jail_file *files, size_t n_files,
                 struct safeexec_outcome *out, struct jail_error *jerr) {
        return safeexec_run_with(NULL, cfg, p, files, n_files, NULL, out, jerr);
}

int safeexec_run_with(const struct safeexec_runner *runner, const struct config *cfg, const struct payload *p,
                      const struct jail_file *files, size_t n_files, struct admit_client *client,
                      struct safeexec_outcome *out, struct jail_error *jerr) {
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
                .files = files, .n_files = n_files, .limits = out->limits, .client = client,
        };
        int r = out->runner->run(out->runner->userdata, cfg, &req, &out->jail, jerr);
        if (r < 0)
                return r;
        /* The stdin can go before the output is read: the peak stays one
         * copy of each. */
        free(TAKE_PTR(in));
        return safeexec_interpret(p, out, jerr);
}

int safeexec_interpret(const struct payload *p, struct safeexec_outcome *out, struct jail_error *jerr) {
        out->payload = p;
        out->success = false;
        out->emsg = NULL;
        if (out->jail.status == 0) {
                struct pyjson_error perr;
                int r = jsondoc_parse(&out->output, out->jail.out ? out->jail.out : "", out->jail.out_len,
                                      SAFEEXEC_MAX_DEPTH, &perr);
                if (r == -ENOMEM)
                        goto oom;
                if (r >= 0 && jsondoc_type(&out->output, out->output.root) == JSONDOC_OBJECT) {
                        out->merge = merge_new(&p->doc, p->globals_at, &out->output);
                        if (!out->merge)
                                goto oom;
                        out->success = true;
                } else {
                        jsondoc_done(&out->output);
                        out->emsg = "Sandboxed code produced corrupted stdout.";
                }
        }
        out->log_status = out->success ? "executed.success" : "executed.error";
        return 0;
oom:
        safeexec_done(out);
        snprintf(jerr->step, sizeof jerr->step, "response");
        jerr->error = ENOMEM;
        return -ENOMEM;
}

void safeexec_write(const struct safeexec_outcome *out, struct jsondoc_out *o) {
        jsondoc_out_put(o, "{\"globals_dict\": ", 17);
        if (out->success)
                write_merged(out, o);
        else
                jsondoc_dump(&out->payload->doc, out->payload->globals_at, o);
        if (!out->success) {
                jsondoc_out_put(o, ", \"emsg\": ", 10);
                if (out->emsg)
                        jsondoc_dump_str(o, out->emsg, strlen(out->emsg));
                else
                        write_error_message(&out->jail, o);
        }
        jsondoc_out_put(o, "}", 1);
}

char *safeexec_render(const struct safeexec_outcome *out, size_t *len) {
        struct jsondoc_out *o = malloc(sizeof *o);
        if (!o)
                return NULL;
        jsondoc_out_init_memory(o);
        safeexec_write(out, o);
        char *s = o->error ? NULL : jsondoc_out_take(o, len);
        free(o->mem);
        free(o);
        return s;
}

void safeexec_release(struct safeexec_outcome *out) {
        if (out->released || !out->runner)
                return;
        out->released = true;
        out->runner->release(out->runner->userdata, &out->jail);
}

void safeexec_done(struct safeexec_outcome *out) {
        merge_free(out->merge);
        out->merge = NULL;
        jsondoc_done(&out->output);
        if (out->runner)
                out->runner->done(out->runner->userdata, &out->jail);
        else
                jail_result_done(&out->jail);
        out->runner = NULL;
        out->released = true;
}
