/* SPDX-License-Identifier: Apache-2.0 */
/* Service configuration (codejail.json(5) "Keys"): parsed
 * once, read-only afterwards.
 * Every limit the service enforces lives here. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "auth.h"

/* codejail's limit names, plus TMPFS and OUTPUT. */
enum limit_id { LIMIT_CPU, LIMIT_REALTIME, LIMIT_VMEM, LIMIT_FSIZE, LIMIT_NPROC, LIMIT_TMPFS, LIMIT_OUTPUT, _LIMIT_MAX };

struct limits {
        int64_t v[_LIMIT_MAX];
};

struct limit_override {
        char *context;
        unsigned set_mask; /* bit (1u << limit_id) set when the context overrides it */
        struct limits values;
};

enum apparmor_mode { APPARMOR_AUTO, APPARMOR_REQUIRE, APPARMOR_OFF };

struct config {
        bool enabled;
        char *python_bin;
        uid_t uid_min, uid_max; /* sandbox_uid_range, inclusive */
        struct limits limits;
        struct limit_override *overrides;
        size_t n_overrides;
        enum apparmor_mode apparmor;
        char *apparmor_profile;
        bool require_private_network;
        uint64_t max_request_bytes;
        /* The form fields other than files, each counted as its value + its
         * name + 2 (Django's DATA_UPLOAD_MAX_MEMORY_SIZE, which upstream
         * keeps at its default). */
        uint64_t max_form_data_bytes;
        uint64_t max_header_bytes; /* not a config key: codejail-service(7) "HTTP" fixes 16 KiB */
        int request_timeout_s;
        char *state_dir;
        int health_max_age_s;
        char **required_modules; /* sandbox_required_modules: importable through the jail */
        size_t n_required_modules;
        /* Admission control (src/admit.c): executions at once on this host
         * (every instance sharing state_dir), and how long a request may
         * wait for one before it is answered 503. */
        unsigned max_concurrent_executions;
        /* Of those, how many may be in their first PACE_FRESH_MS at once,
         * and how many past PACE_CPU_BOUND_MS of CPU time may run at once
         * (the others paused): src/pace.h. 0: no such bound. */
        unsigned max_starting_executions;
        unsigned max_cpu_bound_executions;
        int queue_timeout_s;
        /* GET /metrics on the service's port (src/metrics.h); the counters
         * are kept either way. */
        bool metrics_route;
        /* Authentication of the caller (src/auth.h): on when
         * jwt_jwks_file is set; config_load reads the key set into
         * jwt.keys before the instance hardens itself. */
        char *jwt_jwks_file;
        struct auth_policy jwt;
        char *path; /* where it was loaded from */
};

/* Django's DATA_UPLOAD_MAX_MEMORY_SIZE default: 2.5 MiB. */
#define CONFIG_DEFAULT_FORM_DATA_BYTES UINT64_C(2621440)

/* sandbox_required_modules: at most this many dotted module names. */
#define CONFIG_MAX_REQUIRED_MODULES 64

#define CONFIG_DEFAULT_PATH "/etc/codejail-service/codejail.json"
#define CONFIG_CREDENTIAL_NAME "codejail.json"
/* The LMS's JWK set: public keys, but bounded like everything read. */
#define CONFIG_MAX_JWKS_BYTES (256u << 10)
#define CONFIG_DEFAULT_JWT_SKEW_S 60

const char *limit_name(enum limit_id id);
/* Whether v is in the range the config accepts for that limit (0 for
 * codejail's five, as codejail means it: codejail-service(7) "Limits"). */
bool limit_valid(enum limit_id id, int64_t v);

/* max_concurrent_executions when the config does not set it:
 * CONFIG_EXECUTIONS_PER_CPU per CPU this process may run on. Pacing
 * (pace.h) bounds what competes for the cores, so this bounds memory and
 * the executions that sleep, block or are paused (tests/bench/README.md
 * "burst-bench.sh: bursts"; 2 cores, a mix with 1 s CPU-bound and
 * sleeping executions: 4 per CPU kept x = x + 1 waiting behind them). */
#define CONFIG_EXECUTIONS_PER_CPU 8
#define CONFIG_MAX_EXECUTIONS 1024
unsigned config_default_executions(void);
/* max_starting_executions and max_cpu_bound_executions when the config
 * does not set them: so many per CPU. Measured as above: 2 CPU-bound
 * executions per CPU came back killed by REALTIME; 3 starting ones per CPU
 * made no quicker answer than 2. */
#define CONFIG_STARTING_PER_CPU 2
#define CONFIG_CPU_BOUND_PER_CPU 1
unsigned config_default_per_cpu(unsigned per_cpu);

/* Defaults of codejail.json(5) "Keys" and codejail-service(7) "Limits"
 * (enabled=false). */
int config_new_default(struct config **ret);

/* Parse JSON text. On error returns -EINVAL (or -ENOMEM) and writes a
 * message naming the offending key into err. */
int config_parse(const char *text, size_t len, struct config **ret, char *err, size_t errlen);

/* Resolve which file to read: explicit, $CREDENTIALS_DIRECTORY/codejail.json,
 * then CONFIG_DEFAULT_PATH; then load it, and the JWK set jwt_jwks_file
 * names (an absolute path, or a credential name in $CREDENTIALS_DIRECTORY). */
int config_load(const char *explicit_path, struct config **ret, char *err, size_t errlen);

void config_free(struct config *c);

/* Whether code-exec requires the LMS's JWT. */
static inline bool config_auth_enabled(const struct config *c) {
        return c && c->jwt_jwks_file;
}

/* Limits for a limit_overrides_context (NULL or unknown -> defaults); _n:
 * a name of len bytes that may hold a NUL, compared as those bytes. */
void config_resolve_limits(const struct config *c, const char *context, struct limits *out);
void config_resolve_limits_n(const struct config *c, const char *context, size_t len, struct limits *out);
