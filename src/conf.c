/* SPDX-License-Identifier: Apache-2.0 */
/* Configuration (codejail.json(5) "Keys"): one JSON file,
 * parsed once, read-only afterwards. Unknown keys and wrong types are
 * errors that name the key. */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>

#include "conf.h"
#include "errbuf.h"
#include "macro.h"

static const char *const limit_names[_LIMIT_MAX] = {
        [LIMIT_CPU] = "CPU",     [LIMIT_REALTIME] = "REALTIME", [LIMIT_VMEM] = "VMEM",
        [LIMIT_FSIZE] = "FSIZE", [LIMIT_NPROC] = "NPROC",       [LIMIT_TMPFS] = "TMPFS",
        [LIMIT_OUTPUT] = "OUTPUT",
};

/* codejail's own limits take 0 as codejail means it: CPU, REALTIME, VMEM
 * and NPROC not limited by that mechanism (the unit's backstops still
 * bound them), FSIZE no file may be written. TMPFS and OUTPUT are ours and
 * need a size (a tmpfs of size 0 would be unbounded). */
static const int64_t limit_min[_LIMIT_MAX] = {
        [LIMIT_CPU] = 0, [LIMIT_REALTIME] = 0, [LIMIT_VMEM] = 0,  [LIMIT_FSIZE] = 0,
        [LIMIT_NPROC] = 0, [LIMIT_TMPFS] = 1,  [LIMIT_OUTPUT] = 1,
};

/* Upper bounds keep arithmetic (hard = soft + 1, ms conversions) safe. */
static const int64_t limit_max[_LIMIT_MAX] = {
        [LIMIT_CPU] = 3600,          [LIMIT_REALTIME] = 3600,     [LIMIT_VMEM] = INT64_C(1) << 40,
        [LIMIT_FSIZE] = INT64_C(1) << 40, [LIMIT_NPROC] = 4096,  [LIMIT_TMPFS] = INT64_C(1) << 34,
        [LIMIT_OUTPUT] = INT64_C(1) << 30,
};

const char *limit_name(enum limit_id id) {
        return (unsigned)id < _LIMIT_MAX ? limit_names[id] : "?";
}

bool limit_valid(enum limit_id id, int64_t v) {
        return (unsigned)id < _LIMIT_MAX && v >= limit_min[id] && v <= limit_max[id];
}

unsigned config_default_per_cpu(unsigned per_cpu) {
        cpu_set_t set;
        int n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
        unsigned v = (unsigned)(n > 0 ? n : 1) * per_cpu;
        return v < CONFIG_MAX_EXECUTIONS ? v : CONFIG_MAX_EXECUTIONS;
}

unsigned config_default_executions(void) {
        return config_default_per_cpu(CONFIG_EXECUTIONS_PER_CPU);
}

int config_new_default(struct config **ret) {
        struct config *c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->enabled = false;
        c->python_bin = strdup(DEFAULT_PYTHON_BIN);
        c->uid_min = (uid_t)1 << 30;
        c->uid_max = ((uid_t)1 << 31) - 2;
        c->limits.v[LIMIT_CPU] = 3;
        c->limits.v[LIMIT_REALTIME] = 5;
        c->limits.v[LIMIT_VMEM] = INT64_C(512) << 20;
        c->limits.v[LIMIT_FSIZE] = INT64_C(1) << 20;
        c->limits.v[LIMIT_NPROC] = 15;
        c->limits.v[LIMIT_TMPFS] = INT64_C(16) << 20;
        c->limits.v[LIMIT_OUTPUT] = INT64_C(4) << 20;
        c->apparmor = APPARMOR_AUTO;
        c->apparmor_profile = strdup("codejail-sandbox");
        c->require_private_network = true;
        c->max_request_bytes = UINT64_C(32) << 20;
        c->max_form_data_bytes = CONFIG_DEFAULT_FORM_DATA_BYTES;
        c->max_header_bytes = 16 << 10;
        c->request_timeout_s = 10;
        c->state_dir = strdup("/run/codejail-service");
        c->health_max_age_s = 900;
        c->max_concurrent_executions = config_default_executions();
        c->max_starting_executions = config_default_per_cpu(CONFIG_STARTING_PER_CPU);
        c->max_cpu_bound_executions = config_default_per_cpu(CONFIG_CPU_BOUND_PER_CPU);
        /* A backstop, not the LMS's bound: the LMS hangs up after 3.5 s
         * and a waiter whose client hung up leaves at once. Long enough
         * for 256 clients at once to drain on 2 cores (measured: up to
         * ~40 s), short of RuntimeMaxSec=120 with request_timeout_s and
         * REALTIME on top. */
        c->queue_timeout_s = 60;
        c->metrics_route = true;
        c->jwt.algorithms = AUTH_ALGS_ALL;
        /* Only the operator's registered service client: a token the LMS
         * minted for a person (its login cookie's) is refused. */
        c->jwt.grant_types = AUTH_GRANT_CLIENT_CREDENTIALS;
        c->jwt.clock_skew_s = CONFIG_DEFAULT_JWT_SKEW_S;
        if (!c->python_bin || !c->apparmor_profile || !c->state_dir) {
                config_free(c);
                return -ENOMEM;
        }
        *ret = c;
        return 0;
}

void config_free(struct config *c) {
        if (!c)
                return;
        for (size_t i = 0; i < c->n_overrides; i++)
                free(c->overrides[i].context);
        free(c->overrides);
        for (size_t i = 0; i < c->n_required_modules; i++)
                free(c->required_modules[i]);
        free(c->required_modules);
        free(c->python_bin);
        free(c->apparmor_profile);
        free(c->state_dir);
        free(c->jwt_jwks_file);
        auth_policy_done(&c->jwt);
        free(c->path);
        free(c);
}

#define fail(err, errlen, ...) errbuf(-EINVAL, err, errlen, __VA_ARGS__)

static int get_bool(json_t *v, const char *key, bool *out, char *err, size_t errlen) {
        if (!json_is_boolean(v))
                return fail(err, errlen, "key '%s': expected true or false", key);
        *out = json_is_true(v);
        return 0;
}

static int get_int(json_t *v, const char *key, int64_t min, int64_t max, int64_t *out, char *err,
                   size_t errlen) {
        if (!json_is_integer(v))
                return fail(err, errlen, "key '%s': expected an integer", key);
        int64_t x = json_integer_value(v);
        if (x < min || x > max)
                return fail(err, errlen, "key '%s': %lld is out of range [%lld, %lld]", key, (long long)x,
                            (long long)min, (long long)max);
        *out = x;
        return 0;
}

static int get_abs_path(json_t *v, const char *key, char **out, char *err, size_t errlen) {
        if (!json_is_string(v))
                return fail(err, errlen, "key '%s': expected a string", key);
        const char *s = json_string_value(v);
        if (s[0] != '/' || strlen(s) >= 256 || strlen(s) != json_string_length(v))
                return fail(err, errlen, "key '%s': expected an absolute path", key);
        char *d = strdup(s);
        if (!d)
                return -ENOMEM;
        free(*out);
        *out = d;
        return 0;
}

static int limit_by_name(const char *name) {
        for (int i = 0; i < _LIMIT_MAX; i++)
                if (streq_safe(name, limit_names[i]))
                        return i;
        return -1;
}

/* Parse {"CPU": 3, ...} into values/mask; key_prefix names it in errors. */
static int parse_limits(json_t *obj, const char *key_prefix, struct limits *values, unsigned *mask,
                        char *err, size_t errlen) {
        const char *k;
        json_t *v;
        if (!json_is_object(obj))
                return fail(err, errlen, "key '%s': expected an object", key_prefix);
        json_object_foreach(obj, k, v) {
                char full[256];
                snprintf(full, sizeof full, "%s.%s", key_prefix, k);
                int id = limit_by_name(k);
                if (id < 0)
                        return fail(err, errlen, "key '%s': unknown limit (known: CPU, REALTIME, VMEM, "
                                                 "FSIZE, NPROC, TMPFS, OUTPUT)", full);
                int r = get_int(v, full, limit_min[id], limit_max[id], &values->v[id], err, errlen);
                if (r < 0)
                        return r;
                if (mask)
                        *mask |= 1u << id;
        }
        return 0;
}

static int parse_overrides(json_t *obj, struct config *c, char *err, size_t errlen) {
        const char *k;
        json_t *v;
        if (!json_is_object(obj))
                return fail(err, errlen, "key 'limit_overrides': expected an object");
        size_t n = json_object_size(obj);
        c->overrides = calloc(n ? n : 1, sizeof *c->overrides);
        if (!c->overrides)
                return -ENOMEM;
        json_object_foreach(obj, k, v) {
                char full[256];
                snprintf(full, sizeof full, "limit_overrides.%s", k);
                struct limit_override *o = &c->overrides[c->n_overrides];
                o->context = strdup(k);
                if (!o->context)
                        return -ENOMEM;
                c->n_overrides++;
                int r = parse_limits(v, full, &o->values, &o->set_mask, err, errlen);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* A Python module name: dotted identifiers (ASCII), so it can be written
 * into the selfcheck's probe code as a literal without escaping. */
static bool is_module_name(const char *s) {
        if (!s || !*s || strlen(s) > 100)
                return false;
        for (const char *p = s; *p; p++) {
                bool start = p == s || p[-1] == '.';
                if (*p == '.' ? start || !p[1] : !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
                                                   (!start && *p >= '0' && *p <= '9')))
                        return false;
        }
        return true;
}

static int parse_modules(const json_t *v, const char *k, struct config *c, char *err, size_t errlen) {
        if (!json_is_array(v) || json_array_size(v) > CONFIG_MAX_REQUIRED_MODULES)
                return fail(err, errlen, "key '%s': expected an array of at most %d module names", k,
                            CONFIG_MAX_REQUIRED_MODULES);
        char **m = calloc(json_array_size(v) + 1, sizeof *m);
        if (!m)
                return -ENOMEM;
        size_t i;
        const json_t *e;
        json_array_foreach(v, i, e) {
                const char *s = json_string_value(e);
                if (!is_module_name(s) || !(m[i] = strdup(s))) {
                        for (size_t k2 = 0; k2 < i; k2++)
                                free(m[k2]);
                        free(m);
                        return s && is_module_name(s) ? -ENOMEM
                                                      : fail(err, errlen, "key '%s[%zu]': expected a module name such as \"numpy\" or \"chem.chemcalc\"", k, i);
                }
        }
        for (size_t k2 = 0; k2 < c->n_required_modules; k2++)
                free(c->required_modules[k2]);
        free(c->required_modules);
        c->required_modules = m;
        c->n_required_modules = json_array_size(v);
        return 0;
}

/* A string or an array of 1..16 non-empty strings (jwt_issuers,
 * jwt_audiences: the LMS names one, key rotation across LMS domains two). */
static int parse_strings(const json_t *v, const char *k, char ***out, size_t *n_out, char *err, size_t errlen) {
        enum { MAX = 16 };
        const json_t *e;
        size_t i, n = json_is_string(v) ? 1 : json_array_size(v);
        if ((!json_is_string(v) && !json_is_array(v)) || n == 0 || n > MAX)
                return fail(err, errlen, "key '%s': expected a string or an array of 1..%d strings", k, MAX);
        char **list = calloc(n, sizeof *list);
        if (!list)
                return -ENOMEM;
        for (i = 0; i < n; i++) {
                e = json_is_string(v) ? v : json_array_get(v, i);
                const char *s = json_string_value(e);
                if (!s || !*s || strlen(s) > 512 || strlen(s) != json_string_length(e) || !(list[i] = strdup(s))) {
                        for (size_t j = 0; j < i; j++)
                                free(list[j]);
                        free(list);
                        return s && *s && strlen(s) <= 512 && strlen(s) == json_string_length(e)
                                       ? -ENOMEM
                                       : fail(err, errlen, "key '%s': expected non-empty strings of at most 512 bytes", k);
                }
        }
        for (size_t j = 0; j < *n_out; j++)
                free((*out)[j]);
        free(*out);
        *out = list;
        *n_out = n;
        return 0;
}

/* Only the RS family: the key set holds public keys, so "none" and HMAC
 * ("HS256" with the public key as the secret) must never be accepted. */
static int parse_algorithms(const json_t *v, const char *k, unsigned *out, char *err, size_t errlen) {
        unsigned mask = 0;
        size_t i;
        const json_t *e;
        if (!json_is_array(v) || json_array_size(v) == 0)
                return fail(err, errlen, "key '%s': expected a non-empty array of \"RS256\", \"RS384\", \"RS512\"", k);
        json_array_foreach(v, i, e) {
                unsigned bit = auth_alg_bit(json_string_value(e));
                if (!bit)
                        return fail(err, errlen, "key '%s[%zu]': only RS256, RS384 and RS512 are accepted (never "
                                                 "none, never HMAC)", k, i);
                mask |= bit;
        }
        *out = mask;
        return 0;
}

/* grant_type values, as the LMS's tokens spell them. The token request's
 * spelling ("client_credentials") is a typo here that would lock the
 * service client out: said so. */
static int parse_grant_types(const json_t *v, const char *k, unsigned *out, char *err, size_t errlen) {
        unsigned mask = 0;
        size_t i;
        const json_t *e;
        if (!json_is_array(v) || json_array_size(v) == 0)
                return fail(err, errlen, "key '%s': expected a non-empty array such as [\"client-credentials\"]", k);
        json_array_foreach(v, i, e) {
                const char *s = json_string_value(e);
                unsigned bit = auth_grant_bit(s);
                if (!bit && s && strchr(s, '_'))
                        return fail(err, errlen, "key '%s[%zu]': \"%.40s\" is the OAuth request's spelling; the LMS's "
                                                 "tokens say it with '-' (\"client-credentials\")", k, i, s);
                if (!bit)
                        return fail(err, errlen, "key '%s[%zu]': expected \"client-credentials\", \"password\", "
                                                 "\"authorization-code\", \"implicit\" or \"openid-hybrid\"", k, i);
                mask |= bit;
        }
        *out = mask;
        return 0;
}

/* {"claim": "value" | true}: value to equal (or to be held by an array
 * claim such as "scopes"), true to be present. Who the token was minted
 * for has keys of its own (jwt_usernames, jwt_grant_types), checked by
 * default: said here it would be a second, weaker way to say it. */
static int parse_claims(const json_t *v, const char *k, struct auth_policy *p, char *err, size_t errlen) {
        enum { MAX = 16 };
        const char *name;
        const json_t *e;
        if (!json_is_object(v) || json_object_size(v) > MAX)
                return fail(err, errlen, "key '%s': expected an object of at most %d claims", k, MAX);
        struct auth_claim *c = calloc(json_object_size(v) + 1, sizeof *c);
        if (!c)
                return -ENOMEM;
        size_t n = 0;
        int r = 0;
        json_object_foreach((json_t *)v, name, e) {
                if (!*name || strlen(name) > 64 || (!json_is_true(e) && !json_is_string(e))) {
                        r = fail(err, errlen, "key '%s.%.64s': expected a string to match or true", k, name);
                        break;
                }
                if (streq_safe(name, "preferred_username") || streq_safe(name, "grant_type")) {
                        r = fail(err, errlen, "key '%s.%s': say it with %s", k, name,
                                 name[0] == 'p' ? "jwt_usernames" : "jwt_grant_types");
                        break;
                }
                c[n].name = strdup(name);
                c[n].value = json_is_string(e) ? strdup(json_string_value(e)) : NULL;
                n++;
                if (!c[n - 1].name || (json_is_string(e) && !c[n - 1].value)) {
                        r = -ENOMEM;
                        break;
                }
        }
        struct auth_policy tmp = { .claims = c, .n_claims = n };
        if (r < 0) {
                auth_policy_done(&tmp);
                return r;
        }
        tmp = (struct auth_policy){ .claims = p->claims, .n_claims = p->n_claims };
        auth_policy_done(&tmp);
        p->claims = c;
        p->n_claims = n;
        return 0;
}

/* jwt_jwks_file: an absolute path, or the name of a credential
 * (LoadCredential=) in $CREDENTIALS_DIRECTORY. */
static bool is_jwks_location(const char *s) {
        if (!s || !*s || strlen(s) >= 256)
                return false;
        if (s[0] == '/')
                return true;
        if (streq_safe(s, ".") || streq_safe(s, ".."))
                return false;
        return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == strlen(s);
}

static int parse_uid_range(json_t *v, const char *k, struct config *c, char *err, size_t errlen) {
        int64_t lo, hi;
        int r;
        if (!json_is_array(v) || json_array_size(v) != 2)
                return fail(err, errlen, "key '%s': expected [first, last]", k);
        if ((r = get_int(json_array_get(v, 0), "sandbox_uid_range[0]", 65536, (INT64_C(1) << 31) - 2, &lo, err,
                         errlen)) < 0 ||
            (r = get_int(json_array_get(v, 1), "sandbox_uid_range[1]", 65536, (INT64_C(1) << 31) - 2, &hi, err,
                         errlen)) < 0)
                return r;
        if (hi - lo < 1023)
                return fail(err, errlen, "key '%s': the range must hold at least 1024 ids", k);
        c->uid_min = (uid_t)lo, c->uid_max = (uid_t)hi;
        return 0;
}

static int parse_apparmor(json_t *v, const char *k, struct config *c, char *err, size_t errlen) {
        const char *s = json_string_value(v);
        if (streq_safe(s, "auto"))
                c->apparmor = APPARMOR_AUTO;
        else if (streq_safe(s, "require"))
                c->apparmor = APPARMOR_REQUIRE;
        else if (streq_safe(s, "off"))
                c->apparmor = APPARMOR_OFF;
        else
                return fail(err, errlen, "key '%s': expected \"auto\", \"require\" or \"off\"", k);
        return 0;
}

static int parse_apparmor_profile(json_t *v, const char *k, struct config *c, char *err, size_t errlen) {
        const char *s = json_string_value(v);
        if (!s || !*s || strlen(s) > 128 || strpbrk(s, " \t\n/"))
                return fail(err, errlen, "key '%s': expected a profile name", k);
        free(c->apparmor_profile);
        c->apparmor_profile = strdup(s);
        return c->apparmor_profile ? 0 : -ENOMEM;
}

static int parse_jwks_file(json_t *v, const char *k, struct config *c, char *err, size_t errlen) {
        const char *s = json_string_value(v);
        if (!is_jwks_location(s) || strlen(s) != json_string_length(v))
                return fail(err, errlen, "key '%s': expected an absolute path or a credential name", k);
        free(c->jwt_jwks_file);
        return (c->jwt_jwks_file = strdup(s)) ? 0 : -ENOMEM;
}

/* Authentication is all or nothing: a key set without the issuer,
 * audience and service user to hold tokens to would accept tokens the LMS
 * signs for others (other services, and learners: its login cookie has the
 * same key, issuer and audience); jwt_* keys without a key set would look
 * like authentication while there is none. */
static int check_jwt_all_or_nothing(json_t *root, const struct config *c, char *err, size_t errlen) {
        if (c->jwt_jwks_file && (!c->jwt.n_issuers || !c->jwt.n_audiences || !c->jwt.n_usernames))
                return fail(err, errlen, "key 'jwt_jwks_file': needs jwt_issuers, jwt_audiences and jwt_usernames (the "
                                         "user of the LMS's OAuth client for this service)");
        if (!c->jwt_jwks_file && (json_object_get(root, "jwt_issuers") || json_object_get(root, "jwt_audiences") ||
                                  json_object_get(root, "jwt_usernames") || json_object_get(root, "jwt_grant_types") ||
                                  json_object_get(root, "jwt_algorithms") || json_object_get(root, "jwt_clock_skew_s") ||
                                  json_object_get(root, "jwt_required_claims")))
                return fail(err, errlen, "jwt_* keys without 'jwt_jwks_file': authentication would be off");
        return 0;
}

int config_parse(const char *text, size_t len, struct config **ret, char *err, size_t errlen) {
        struct config *c = NULL;
        json_error_t jerr;
        int r;

        json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!root)
                return fail(err, errlen, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
        if (!json_is_object(root)) {
                json_decref(root);
                return fail(err, errlen, "expected a JSON object at the top level");
        }
        r = config_new_default(&c);
        if (r < 0)
                goto out;

        const char *k;
        json_t *v;
        json_object_foreach(root, k, v) {
                int64_t x;
                if (streq_safe(k, "enabled"))
                        r = get_bool(v, k, &c->enabled, err, errlen);
                else if (streq_safe(k, "metrics_route"))
                        r = get_bool(v, k, &c->metrics_route, err, errlen);
                else if (streq_safe(k, "require_private_network"))
                        r = get_bool(v, k, &c->require_private_network, err, errlen);
                else if (streq_safe(k, "python_bin"))
                        r = get_abs_path(v, k, &c->python_bin, err, errlen);
                else if (streq_safe(k, "state_dir"))
                        r = get_abs_path(v, k, &c->state_dir, err, errlen);
                else if (streq_safe(k, "sandbox_uid_range"))
                        r = parse_uid_range(v, k, c, err, errlen);
                else if (streq_safe(k, "limits"))
                        r = parse_limits(v, "limits", &c->limits, NULL, err, errlen);
                else if (streq_safe(k, "limit_overrides"))
                        r = parse_overrides(v, c, err, errlen);
                else if (streq_safe(k, "apparmor"))
                        r = parse_apparmor(v, k, c, err, errlen);
                else if (streq_safe(k, "apparmor_profile"))
                        r = parse_apparmor_profile(v, k, c, err, errlen);
                else if (streq_safe(k, "max_request_bytes")) {
                        r = get_int(v, k, 1024, INT64_C(1) << 31, &x, err, errlen);
                        if (r >= 0)
                                c->max_request_bytes = (uint64_t)x;
                } else if (streq_safe(k, "max_form_data_bytes")) {
                        r = get_int(v, k, 1024, INT64_C(1) << 31, &x, err, errlen);
                        if (r >= 0)
                                c->max_form_data_bytes = (uint64_t)x;
                } else if (streq_safe(k, "request_timeout_s")) {
                        r = get_int(v, k, 1, 3600, &x, err, errlen);
                        if (r >= 0)
                                c->request_timeout_s = (int)x;
                } else if (streq_safe(k, "sandbox_required_modules"))
                        r = parse_modules(v, k, c, err, errlen);
                else if (streq_safe(k, "health_max_age_s")) {
                        r = get_int(v, k, 1, 86400 * 7, &x, err, errlen);
                        if (r >= 0)
                                c->health_max_age_s = (int)x;
                } else if (streq_safe(k, "max_concurrent_executions")) {
                        r = get_int(v, k, 1, CONFIG_MAX_EXECUTIONS, &x, err, errlen);
                        if (r >= 0)
                                c->max_concurrent_executions = (unsigned)x;
                } else if (streq_safe(k, "max_starting_executions")) {
                        r = get_int(v, k, 0, CONFIG_MAX_EXECUTIONS, &x, err, errlen);
                        if (r >= 0)
                                c->max_starting_executions = (unsigned)x;
                } else if (streq_safe(k, "max_cpu_bound_executions")) {
                        r = get_int(v, k, 0, CONFIG_MAX_EXECUTIONS, &x, err, errlen);
                        if (r >= 0)
                                c->max_cpu_bound_executions = (unsigned)x;
                } else if (streq_safe(k, "queue_timeout_s")) {
                        /* 0: never wait (503 at once when every slot is taken). */
                        r = get_int(v, k, 0, 3600, &x, err, errlen);
                        if (r >= 0)
                                c->queue_timeout_s = (int)x;
                } else if (streq_safe(k, "jwt_jwks_file"))
                        r = parse_jwks_file(v, k, c, err, errlen);
                else if (streq_safe(k, "jwt_issuers"))
                        r = parse_strings(v, k, &c->jwt.issuers, &c->jwt.n_issuers, err, errlen);
                else if (streq_safe(k, "jwt_audiences"))
                        r = parse_strings(v, k, &c->jwt.audiences, &c->jwt.n_audiences, err, errlen);
                else if (streq_safe(k, "jwt_algorithms"))
                        r = parse_algorithms(v, k, &c->jwt.algorithms, err, errlen);
                else if (streq_safe(k, "jwt_clock_skew_s")) {
                        r = get_int(v, k, 0, 600, &x, err, errlen);
                        if (r >= 0)
                                c->jwt.clock_skew_s = x;
                } else if (streq_safe(k, "jwt_required_claims"))
                        r = parse_claims(v, k, &c->jwt, err, errlen);
                else if (streq_safe(k, "jwt_usernames"))
                        r = parse_strings(v, k, &c->jwt.usernames, &c->jwt.n_usernames, err, errlen);
                else if (streq_safe(k, "jwt_grant_types"))
                        r = parse_grant_types(v, k, &c->jwt.grant_types, err, errlen);
                else
                        r = fail(err, errlen, "key '%s': unknown key", k);
                if (r < 0)
                        goto out;
        }
        r = check_jwt_all_or_nothing(root, c, err, errlen);
        if (r >= 0) {
                *ret = TAKE_PTR(c);
                r = 0;
        }
out:
        json_decref(root);
        config_free(c);
        return r;
}

static int read_file(const char *path, size_t max, char **ret, size_t *len) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        _cleanup_free_ char *buf = malloc(max + 1);
        if (!buf)
                return -ENOMEM;
        size_t n = 0;
        for (;;) {
                ssize_t k = read(fd, buf + n, max + 1 - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        break;
                n += (size_t)k;
                if (n > max)
                        return -EFBIG;
        }
        buf[n] = '\0';
        *len = n;
        *ret = TAKE_PTR(buf);
        return 0;
}

/* Read the JWK set now, while the instance may still read what its
 * credentials and /etc hold (before harden_self()). */
static int load_jwks(struct config *c, char *err, size_t errlen) {
        char cred[4096];
        const char *path = c->jwt_jwks_file;
        if (path[0] != '/') {
                const char *dir = getenv("CREDENTIALS_DIRECTORY");
                if (!dir || !*dir) {
                        snprintf(err, errlen, "config %s: key 'jwt_jwks_file': credential %s: no $CREDENTIALS_DIRECTORY "
                                 "(LoadCredential=%s:/etc/codejail-service/%s in a drop-in)", c->path, path, path, path);
                        return -ENOENT;
                }
                snprintf(cred, sizeof cred, "%s/%s", dir, path);
                path = cred;
        }
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r = read_file(path, CONFIG_MAX_JWKS_BYTES, &text, &len);
        if (r < 0) {
                snprintf(err, errlen, "config %s: key 'jwt_jwks_file': %s: %s", c->path, path, strerror(-r));
                return r;
        }
        /* detail: why the set does not parse, or why the verifier did not
         * load (authload.c) */
        char detail[512] = "";
        r = auth_keys_parse(text, len, &c->jwt.keys, detail, sizeof detail);
        if (r < 0)
                snprintf(err, errlen, "config %s: key 'jwt_jwks_file': %s: %s", c->path, path,
                         detail[0] ? detail : strerror(-r));
        return r;
}

int config_load(const char *explicit_path, struct config **ret, char *err, size_t errlen) {
        char cred[4096];
        const char *path = explicit_path;
        if (!path) {
                const char *dir = getenv("CREDENTIALS_DIRECTORY");
                if (dir && *dir) {
                        snprintf(cred, sizeof cred, "%s/%s", dir, CONFIG_CREDENTIAL_NAME);
                        if (access(cred, F_OK) == 0)
                                path = cred;
                }
        }
        if (!path)
                path = CONFIG_DEFAULT_PATH;

        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r = read_file(path, 1 << 20, &text, &len);
        if (r < 0) {
                snprintf(err, errlen, "config %s: %s", path, strerror(-r));
                return r;
        }
        struct config *c = NULL;
        char detail[512];
        r = config_parse(text, len, &c, detail, sizeof detail);
        if (r < 0) {
                snprintf(err, errlen, "config %s: %s", path, detail);
                return r;
        }
        c->path = strdup(path);
        if (!c->path) {
                config_free(c);
                return -ENOMEM;
        }
        if (c->jwt_jwks_file && (r = load_jwks(c, err, errlen)) < 0) {
                config_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

void config_resolve_limits(const struct config *c, const char *context, struct limits *out) {
        config_resolve_limits_n(c, context, context ? strlen(context) : 0, out);
}

void config_resolve_limits_n(const struct config *c, const char *context, size_t len, struct limits *out) {
        *out = c->limits;
        if (!context)
                return;
        /* The bytes of the request's name, a NUL among them ("long\u0000x"
         * is not "long"): an unknown context gets the defaults, as upstream. */
        for (size_t i = 0; i < c->n_overrides; i++) {
                const struct limit_override *o = &c->overrides[i];
                if (strlen(o->context) != len || memcmp(o->context, context, len) != 0)
                        continue;
                for (int id = 0; id < _LIMIT_MAX; id++)
                        if (o->set_mask & (1u << id))
                                out->v[id] = o->values.v[id];
                return;
        }
}
