/* SPDX-License-Identifier: Apache-2.0 */
/* Privilege separation of one instance (see privsep.h).
 *
 * Why: the code that reads attacker bytes -- llhttp, the form parsers,
 * jansson on the payload, the JWT, our JSON tokenizer on the jailed
 * program's output -- used to run in the process that holds
 * CAP_SYS_ADMIN, CAP_SETUID, CAP_SETGID and CAP_SETPCAP for the jail's
 * set-up. A memory-safety bug in any of them was a root-equivalent
 * compromise of the host's mount and uid tables. Now they run in a child
 * that holds nothing (OpenSSH's privsep, bubblewrap's "drop before
 * parsing"); the parent takes one length-prefixed, re-validated request
 * (execmsg.c) and never parses JSON or HTTP.
 *
 * The split happens after the connection fd is known and the config is
 * read, before a byte of the request is read. Everything the child needs
 * is opened before it drops (server_prepare): the journal socket,
 * /proc/self/status, the health state (read), the admission lock. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "admit.h"
#include "execmsg.h"
#include "jail.h"
#include "log.h"
#include "macro.h"
#include "privsep.h"
#include "server.h"
#include "unpriv.h"

/* The request: the wrapper's stdin ([code, globals] as JSON, at most six
 * bytes per body byte: "\u007f" for a raw DEL) plus the files (within the
 * body): 8 x the body bound, plus the fixed fields. */
#define REQUEST_BOUND(max_body) (8 * (size_t)(max_body) + ((size_t)1 << 20))
/* The outcome: both captured streams, each at most OUTPUT, plus fields. */
#define OUTCOME_BOUND(output) (2 * (size_t)(output) + ((size_t)64 << 10))

/* ---- the privileged side ---- */

static int send_setup_error(int fd, const struct jail_error *jerr, int r) {
        struct execmsg_outcome o = { .setup_error = jerr->error ? jerr->error : -r };
        snprintf(o.step, sizeof o.step, "%s", jerr->step[0] ? jerr->step : "unknown");
        return execmsg_send_outcome(fd, &o);
}

int privsep_read_request(const struct config *cfg, int fd, struct execmsg_request *req, char *err, size_t errlen) {
        /* Without a config no execution is ever asked for: any message is
         * over a bound of 0. */
        size_t bound = cfg ? REQUEST_BOUND(cfg->max_request_bytes) : 0;
        return execmsg_recv_request(fd, bound, req, err, errlen);
}

/* What the configuration allows a request to ask for, checked again here:
 * a compromised parsing side must not run code on a disabled service, nor
 * with limits no context of the configuration has. */
static const char *request_not_allowed(const struct config *cfg, const struct execmsg_request *req) {
        struct limits l;
        if (!cfg->enabled)
                return "an execution while the service is disabled";
        config_resolve_limits(cfg, NULL, &l);
        if (!memcmp(&l, &req->limits, sizeof l))
                return NULL;
        for (size_t i = 0; i < cfg->n_overrides; i++) {
                config_resolve_limits(cfg, cfg->overrides[i].context, &l);
                if (!memcmp(&l, &req->limits, sizeof l))
                        return NULL;
        }
        return "limits of no configured context";
}

/* Until the child says the teardown may start (it shuts its end for
 * writing once its answer is out, or as soon as the answer cannot be
 * written at once: a client that does not read holds no jail; or it is
 * gone), at most the request's own time bound: a stalled child only delays
 * the teardown of an execution that is over. */
static void wait_answered(const struct config *cfg, int fd) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int ms = (cfg->request_timeout_s > 0 ? cfg->request_timeout_s : 10) * 1000;
        char c;
        while (poll(&p, 1, ms) < 0 && errno == EINTR)
                ;
        if (p.revents && read(fd, &c, 1) > 0)
                log_warning("privsep: the unprivileged side sent more than its request");
}

int privsep_supervise(const struct config *cfg, int fd, int lock_fd) {
        struct execmsg_request req;
        char err[200] = "";
        /* While the child reads and parses the request, the jail's part that
         * does not depend on it (jail.h): a request that is answered without
         * an execution costs the work, one that runs does not wait for it. */
        struct jail_prep *prep = cfg && cfg->enabled ? jail_prepare(cfg) : NULL;
        /* Once the request is in, nothing more comes from the child: this
         * socket readable or hung up means its client left (the child shut
         * it) or the child died -- nobody is left to answer. */
        if (prep) {
                jail_prep_stop_on(prep, fd);
                if (lock_fd >= 0 && !SABOTAGED(LAYER_PACING))
                        jail_prep_pace_on(prep, lock_fd, cfg->max_cpu_bound_executions);
        }
        int r = privsep_read_request(cfg, fd, &req, err, sizeof err);
        if (r == -ENODATA) {
                jail_prep_free(prep);
                return 0; /* served without an execution */
        }
        if (r < 0) {
                jail_prep_free(prep);
                log_error("privsep: malformed execution request from the unprivileged side, ending the instance: "
                          "%s (%s)", err[0] ? err : "-", strerror(-r));
                return r;
        }
        const char *why = request_not_allowed(cfg, &req);
        if (why) {
                jail_prep_free(prep);
                log_error("privsep: the unprivileged side asked for %s, ending the instance", why);
                execmsg_request_done(&req);
                return -EBADMSG;
        }
        struct jail_request view;
        struct jail_result res;
        struct jail_error jerr = { 0 };
        execmsg_request_view(&req, &view);
        r = prep ? jail_run_prepared(prep, &view, &res, &jerr) : jail_run(cfg, &view, &res, &jerr);
        if (r < 0)
                r = send_setup_error(fd, &jerr, r);
        else {
                struct execmsg_outcome o = { .res = res };
                r = execmsg_send_outcome(fd, &o);
                /* After the answer: the client need not wait for the
                 * teardown, nor share the CPU with it while it is answered. */
                if (r >= 0)
                        wait_answered(cfg, fd);
                jail_result_done(&res);
        }
        execmsg_request_done(&req);
        /* A child that left early cannot read the outcome: not ours to log. */
        return r == -EPIPE || r == -ECONNRESET ? 0 : r;
}

static int reap(pid_t pid) {
        int st;
        while (waitpid(pid, &st, 0) < 0)
                if (errno != EINTR)
                        return negative_errno();
        if (WIFEXITED(st))
                return WEXITSTATUS(st); /* it said why on stderr */
        log_error("privsep: the unprivileged side died of signal %d", WTERMSIG(st));
        return 1;
}

static int serve_child(const struct config *cfg, const char *config_error, int conn_fd, int fd) {
        const char *step = "prepare";
        struct safeexec_runner runner;
        int r = server_prepare(cfg);
        if (r >= 0)
                r = unpriv_drop(getppid(), &step);
        if (r < 0) {
                /* Never parse a byte of the request with privileges. */
                log_error("privsep: dropping privileges failed at %s: %s; request not read", step, strerror(-r));
                return r;
        }
        privsep_runner(&fd, &runner);
        r = server_handle_with(cfg, config_error, conn_fd, &runner);
        if (fd >= 0)
                close(fd);
        return r;
}

/* The admission lock, opened once for both sides: the child queues and
 * holds its ticket on it, this side gives back the FRESH byte and takes a
 * LONG one for the same ticket (pace.h). -1 when there is none to share
 * (the child then opens its own, or says why not). */
static int open_admission(const struct config *cfg) {
        char path[300]; /* state_dir: < 256 (conf.c) */
        if (!cfg || !cfg->enabled || SABOTAGED(LAYER_ADMISSION))
                return -1;
        snprintf(path, sizeof path, "%s/admission.lock", cfg->state_dir);
        int fd = admit_open(path);
        return fd < 0 ? -1 : fd;
}

int privsep_serve(const struct config *cfg, const char *config_error, int conn_fd) {
        int fd;
        long long parent_cpu_us = 0;
        _cleanup_close_ int lock_fd = open_admission(cfg);
        pid_t pid = unpriv_fork(&fd, &parent_cpu_us);
        if (pid < 0) {
                log_error("privsep: fork: %s", strerror(-pid));
                return pid;
        }
        /* The child leaves here: its caller's remaining work (reaping, in
         * --exec mode) is the parent's, and so are the exit handlers (the
         * caller's, and LeakSanitizer's, which would need ptrace). Its log
         * counts the parent's CPU until the fork: the instance's total. */
        if (pid == 0) {
                server_mark_split(parent_cpu_us);
                if (lock_fd >= 0)
                        server_use_admission(TAKE_FD(lock_fd));
                int r = serve_child(cfg, config_error, conn_fd, fd);
                if (r < 0)
                        fprintf(stderr, "codejaild: %s\n", strerror(-r));
                fflush(NULL);
                _exit(r < 0 ? 1 : 0);
        }
        close(conn_fd);
        int r = privsep_supervise(cfg, fd, lock_fd);
        /* The teardown is over: the slot is free before the child hears of
         * it (the child's copy of the descriptor would keep it held). */
        if (lock_fd >= 0)
                admit_release_all(lock_fd);
        close(fd);
        if (r < 0)
                kill(pid, SIGKILL);
        int rc = reap(pid);
        return r < 0 ? r : rc;
}

/* ---- the unprivileged side's runner ---- */

/* While the parent runs the execution, until its outcome is there: when
 * the client leaves first (admit_client_gone(): a reset; a FIN answered
 * by the probe, then the reset a closed client sends back; HTTP/1.0: a
 * FIN past the grace), this end is shut for writing, which makes the
 * parent stop the execution (jail_prep_stop_on()); its outcome follows
 * all the same. 1 when the client left, 0 when not, or -errno. */
static int await_outcome(int fd, struct admit_client *client) {
        int cfd = client ? client->fd : -1;
        for (;;) {
                struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
                                       { .fd = cfd, .events = cfd >= 0 ? admit_client_events(client) : 0 } };
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (p[0].revents)
                        return 0;
                if (p[1].revents && admit_client_gone(client)) {
                        (void)shutdown(fd, SHUT_WR);
                        return 1;
                }
        }
}

static int run_remote(void *userdata, const struct config *cfg, const struct jail_request *req,
                      struct jail_result *res, struct jail_error *jerr) {
        int fd = *(int *)userdata, left = 0;
        struct execmsg_outcome o;
        char err[200] = "";
        (void)cfg;
        memset(res, 0, sizeof *res);
        int r = execmsg_send_request(fd, req);
        if (r >= 0)
                r = left = await_outcome(fd, req->client);
        if (r >= 0)
                r = execmsg_recv_outcome(fd, OUTCOME_BOUND(req->limits.v[LIMIT_OUTPUT]), &o, err, sizeof err);
        if (r < 0) {
                snprintf(jerr->step, sizeof jerr->step, "privsep: %.38s", err[0] ? err : strerror(-r));
                jerr->error = r == -EBADMSG || r == -EMSGSIZE ? EPROTO : -r;
                return r;
        }
        if (o.setup_error) {
                snprintf(jerr->step, sizeof jerr->step, "%s", o.step);
                jerr->error = o.setup_error > 0 ? o.setup_error : EPROTO;
                execmsg_outcome_done(&o);
                return -jerr->error;
        }
        *res = o.res;
        res->stopped = left; /* not carried: this side decided it */
        return left ? -ECONNABORTED : 0;
}

/* The execution is over and its answer is written, or cannot be written
 * at once (server.c): the teardown is the parent's. Shutting this end for
 * writing tells it to start; it closes its end when the teardown is over,
 * so the next in line for a slot never runs beside this execution's
 * remains. The captured output stays: the answer is written from it. */
static void release_remote(void *userdata, struct jail_result *res) {
        int *fd = userdata;
        char c;
        (void)res;
        if (*fd < 0)
                return;
        (void)shutdown(*fd, SHUT_WR);
        while (read(*fd, &c, 1) < 0 && errno == EINTR)
                ;
        close(*fd);
        *fd = -1;
}

static void done_remote(void *userdata, struct jail_result *res) {
        release_remote(userdata, res);
        free(res->out);
        free(res->err);
        res->out = res->err = NULL;
}

void privsep_runner(int *fd, struct safeexec_runner *out) {
        *out = (struct safeexec_runner){ .run = run_remote, .release = release_remote, .done = done_remote,
                                         .userdata = fd };
}
