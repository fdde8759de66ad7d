/* SPDX-License-Identifier: Apache-2.0 */
/* One confined execution (codejail-service(7) "Execution semantics",
 * "What the jail allows and denies"): the ordered privileged steps live in jail.c; each
 * kernel facility has its own file. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "admit.h"
#include "conf.h"

struct jail_file {
        const char *name; /* basename written into the jail dir */
        const void *data;
        size_t len;
};

struct jail_request {
        const void *stdin_data; /* what the wrapper reads: [code, globals] */
        size_t stdin_len;
        size_t n_python_path;   /* sys.path.append('python_lib.zip') lines */
        const struct jail_file *files;
        size_t n_files;
        struct limits limits;
        /* Whose departure stops the execution; NULL: nobody's. Not sent to
         * the privileged side (execmsg.c): only this side holds it. */
        struct admit_client *client;
};

/* What is left to do once the answer is out: the execution is over (its
 * program was reaped, its output is at EOF), but its init may still be
 * tearing down the namespaces, and the sandbox UID stays reserved until it
 * is gone. */
struct jail_teardown {
        bool pending;
        pid_t init;
        int pidfd, dfd, lock_fd;
        char dir[64];
};

struct jail_result {
        int status;             /* exit code, or -signal */
        char *out, *err;        /* captured stdout/stderr (<= OUTPUT each) */
        size_t out_len, err_len;
        uid_t uid;
        uint64_t duration_ms, cpu_ms, maxrss_kb;
        const char *limit_hit;  /* NULL, "REALTIME", "OUTPUT", "CPU", ... */
        bool stopped;           /* killed because the stop fd said so (jail_prep_stop_on) */
        uint64_t paused_ms;     /* paused for want of a LONG byte (pace.h) */
        char apparmor_label[96]; /* the program's label, read by its init; "" without AppArmor */
        struct jail_teardown teardown;
};

/* A failure of the service or the jail set-up (never of the untrusted code):
 * which step failed and its errno. */
struct jail_error {
        char step[48];
        int error; /* positive errno */
};

/* Layers that may be switched off in the sabotage build only
 * (src/codejaild-sabotage, never installed): CODEJAIL_SABOTAGE=a,b,c. */
enum jail_layer {
        LAYER_LANDLOCK = 1u << 0,
        LAYER_SECCOMP = 1u << 1,
        LAYER_UID = 1u << 2,       /* run as the service's own uid */
        LAYER_NAMESPACES = 1u << 3,
        LAYER_MOUNTS = 1u << 4,    /* every jail mount: the root, tmp/ quota, /proc */
        LAYER_RLIMITS = 1u << 5,
        LAYER_CAPS = 1u << 6,
        LAYER_NNP = 1u << 7,
        LAYER_EXEC_ONCE = 1u << 8, /* the execve supervisor */
        LAYER_APPARMOR = 1u << 9,
        LAYER_NETNS_SELF = 1u << 10,
        LAYER_SELF_SECCOMP = 1u << 11, /* the service's own filter + no_new_privs */
        LAYER_SELF_CAPS = 1u << 12,    /* the service's own capability drop */
        LAYER_SELF_DUMPABLE = 1u << 13,
        LAYER_SELF_MOUNTS = 1u << 14,  /* the service's own read-only filesystem view */
        LAYER_SELF_NS = 1u << 15,      /* the service's own UTS and IPC namespaces */
        LAYER_SELF_SCOPE = 1u << 16,   /* the service's own Landlock signal scope */
        LAYER_ROOT = 1u << 17,         /* the allow-list root: off = the host's tree in view */
        LAYER_ADMISSION = 1u << 18,    /* admission control (server.c, admit.c): no bound, no queue */
        LAYER_PRIVSEP = 1u << 19,      /* the parsing side's drop (unpriv.c): it keeps the parent's privileges */
        LAYER_PACING = 1u << 20,       /* pacing (pace.c): the FRESH byte kept to the end, no pause, no LONG bound */
};
unsigned jail_sabotaged_layers(void); /* 0 in production builds */

/* Whether a layer is switched off: a constant 0 in production builds, so
 * the compiler drops every sabotage branch. */
#ifdef CODEJAIL_SABOTAGE
#define SABOTAGED(l) (jail_sabotaged_layers() & (l))
#else
#define SABOTAGED(l) 0
#endif

/* Run one execution. Returns 0 with *res filled (whatever the code did),
 * or -errno for a set-up failure with *err filled. The result is final when
 * this returns; its teardown (killing and reaping the init, removing the
 * jail dir, releasing the UID) may still be pending so the caller can
 * answer first: jail_result_done() finishes it, and must be called. */
int jail_run(const struct config *cfg, const struct jail_request *req, struct jail_result *res,
             struct jail_error *err);

/* jail_run() in two halves, so that the part that does not depend on the
 * request (steps 1-6: the UID, the jail dir, the Landlock ruleset, the
 * init in its namespaces with the root built) is done while the request
 * is still being read and parsed elsewhere (privsep.c). jail_prepare()
 * returns NULL only without memory; a failed preparation is reported by
 * jail_run_prepared(), which consumes the preparation whatever happens.
 * jail_prep_free() discards one that is not run: the init is killed, the
 * dir removed, the UID released. */
struct jail_prep;
struct jail_prep *jail_prepare(const struct config *cfg);
int jail_run_prepared(struct jail_prep *p, const struct jail_request *req, struct jail_result *res,
                      struct jail_error *err);
void jail_prep_free(struct jail_prep *p);
/* Before jail_run_prepared(): once fd (the caller's, open until the run
 * returns) is readable or hung up, the execution is killed at once, as the
 * wall clock would kill it, and res->stopped is set. privsep.c passes its
 * socket to the side that holds the connection: that side shuts it when
 * the client has left, and it hangs up when that side dies -- either way
 * nobody is left to answer. */
void jail_prep_stop_on(struct jail_prep *p, int fd);
/* Before jail_run_prepared(): pace the execution (pace.h) on lock_fd (the
 * caller's, open until the run returns; it holds the execution's FRESH
 * byte). */
void jail_prep_pace_on(struct jail_prep *p, int lock_fd, unsigned cpu_bound_slots);
/* The pending teardown only: the jail is gone, res stays readable. */
void jail_result_release(struct jail_result *res);
void jail_result_done(struct jail_result *res);

/* The service process moves itself into a fresh network namespace (no
 * egress from the web side either), unless it already is in one with only
 * loopback (systemd's PrivateNetwork=). From then on its one execution
 * shares that namespace rather than creating another. */
int jail_isolate_self_network(const struct config *cfg);

/* The service process moves itself into fresh UTS and IPC namespaces (its
 * hostname and System V / POSIX IPC are no one else's: ProtectHostname=,
 * PrivateIPC=), which its one execution then shares. */
int jail_isolate_self_uts_ipc(void);
