/* SPDX-License-Identifier: Apache-2.0 */
/* codejaild: one socket-activated connection, or a selfcheck, or one
 * execution from a payload file (developers and tests). One exit site:
 * run() returns -errno or an exit code, main maps it. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"
#include "fdio.h"
#include "harden.h"
#include "health.h"
#include "jail.h"
#include "log.h"
#include "macro.h"
#include "metrics.h"
#include "privsep.h"
#include "server.h"

#define MAX_FILES 16

struct upload {
        const char *name, *path;
};

static void usage(FILE *f) {
        fputs("usage: codejaild [--config FILE]                      serve one connection (fd 3 or fd 0)\n"
              "       codejaild [--config FILE] --selfcheck          probe the jail, write health.json\n"
              "       codejaild [--config FILE] --metrics            print the host's metrics (Prometheus text)\n"
              "       codejaild [--config FILE] --exec PAYLOAD.json [--file NAME=PATH]...\n"
              "                 run one code-exec request without HTTP; prints the JSON body,\n"
              "                 exit status 0 (200), 4 (400) or 5 (500)\n",
              f);
}

static int read_all(const char *path, char **buf, size_t *len) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                return negative_errno();
        if (st.st_size > (1 << 30))
                return -EFBIG;
        char *b = malloc((size_t)st.st_size + 1);
        size_t n = 0;
        if (!b)
                return -ENOMEM;
        for (;;) {
                ssize_t k = read(fd, b + n, (size_t)st.st_size - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        free(b);
                        return negative_errno();
                }
                if (k == 0 || (n += (size_t)k) == (size_t)st.st_size)
                        break;
        }
        b[n] = '\0';
        *buf = b, *len = n;
        return 0;
}

/* The --exec client: send a multipart request for the payload and files
 * through the real server code on a socketpair, print the body. */
_noreturn_ static void exec_client(int fd, const char *payload_path, const struct upload *files, size_t n) {
        static const char boundary[] = "codejaild-exec-7f3a9c1e5b";
        _cleanup_free_ char *payload = NULL;
        size_t plen, total = 0;
        char head[512];
        int r = read_all(payload_path, &payload, &plen);
        if (r < 0) {
                fprintf(stderr, "codejaild: %s: %s\n", payload_path, strerror(-r));
                _exit(2);
        }
        char *bodies[MAX_FILES + 1];
        size_t blens[MAX_FILES + 1];
        bodies[0] = payload, blens[0] = plen;
        for (size_t i = 0; i < n; i++)
                if ((r = read_all(files[i].path, &bodies[i + 1], &blens[i + 1])) < 0) {
                        fprintf(stderr, "codejaild: %s: %s\n", files[i].path, strerror(-r));
                        _exit(2);
                }
        /* Part headers are short; compute the length first. */
        for (size_t i = 0; i <= n; i++) {
                total += (size_t)snprintf(head, sizeof head,
                                          "--%s\r\nContent-Disposition: form-data; name=\"%s\"%s%s%s\r\n\r\n",
                                          boundary, i ? files[i - 1].name : "payload", i ? "; filename=\"" : "",
                                          i ? files[i - 1].name : "", i ? "\"" : "");
                total += blens[i] + 2;
        }
        total += strlen(boundary) + 6;
        dprintf(fd, "POST /api/v0/code-exec HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; "
                    "boundary=%s\r\nContent-Length: %zu\r\n\r\n", boundary, total);
        for (size_t i = 0; i <= n; i++) {
                dprintf(fd, "--%s\r\nContent-Disposition: form-data; name=\"%s\"%s%s%s\r\n\r\n", boundary,
                        i ? files[i - 1].name : "payload", i ? "; filename=\"" : "", i ? files[i - 1].name : "",
                        i ? "\"" : "");
                fd_write_all(fd, bodies[i], blens[i]);
                fd_write_all(fd, "\r\n", 2);
        }
        dprintf(fd, "--%s--\r\n", boundary);
        shutdown(fd, SHUT_WR);

        /* Response: status line, headers, body. */
        size_t cap = 1 << 16, len = 0;
        char *resp = malloc(cap + 1);
        for (;;) {
                if (!resp)
                        _exit(2);
                if (len == cap) {
                        resp = realloc(resp, (cap *= 2) + 1);
                        continue;
                }
                ssize_t k = read(fd, resp + len, cap - len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                len += (size_t)k;
        }
        resp[len] = '\0';
        int status = 0;
        char *at = resp, *body;
        /* Interim responses (1xx) first: the probe that asks this client,
         * which half-closed, whether it is still there. */
        while ((body = strstr(at, "\r\n\r\n")) && sscanf(at, "HTTP/1.%*d %d", &status) == 1 && status / 100 == 1)
                at = body + 4;
        if (sscanf(at, "HTTP/1.%*d %d", &status) != 1 || !body) {
                fprintf(stderr, "codejaild: no response from the service\n");
                _exit(2);
        }
        fputs(body + 4, stdout);
        fputc('\n', stdout);
        fflush(stdout);
        _exit(status == 200 ? 0 : status / 100);
}

static int run_exec(const struct config *cfg, const char *config_error, const char *payload_path,
                    const struct upload *files, size_t n) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return negative_errno();
        pid_t pid = fork();
        if (pid < 0)
                return negative_errno();
        if (pid == 0) {
                close(sv[0]);
                exec_client(sv[1], payload_path, files, n);
        }
        close(sv[1]);
        /* Split as a served connection is: the request is parsed, and the
         * output interpreted, without privileges; sv[0] is the child's. */
        int r = privsep_serve(cfg, config_error, sv[0]);
        int st;
        while (waitpid(pid, &st, 0) < 0)
                if (errno != EINTR)
                        return negative_errno();
        if (r != 0)
                return r;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 2;
}

/* --metrics: what GET /metrics answers, on stdout (a node-exporter
 * textfile, a look without the socket). Opens only what exists, read-only:
 * run as root it must not create a file the service could not open. */
static int print_metrics(const struct config *cfg) {
        char lock[300]; /* state_dir: < 256 (conf.c) */
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r = metrics_open(cfg->state_dir, METRICS_READ);
        if (r < 0) {
                fprintf(stderr, "codejaild: no counters in %s (no request served yet?): %s\n", cfg->state_dir,
                        strerror(-r));
                return 1;
        }
        snprintf(lock, sizeof lock, "%s/admission.lock", cfg->state_dir);
        _cleanup_close_ int fd = open(lock, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if ((r = metrics_render(cfg, fd, &text, &len)) < 0)
                return r;
        return fwrite(text, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : -EIO;
}

static int run(int argc, char **argv) {
        static const struct option opts[] = {
                { "config", required_argument, NULL, 'c' }, { "selfcheck", no_argument, NULL, 's' },
                { "exec", required_argument, NULL, 'e' },   { "file", required_argument, NULL, 'f' },
                { "metrics", no_argument, NULL, 'm' },      { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *config_path = NULL, *exec_path = NULL;
        struct upload files[MAX_FILES];
        size_t n_files = 0;
        bool selfcheck = false, metrics = false;
        int c;

        while ((c = getopt_long(argc, argv, "c:se:f:h", opts, NULL)) >= 0)
                switch (c) {
                case 'c': config_path = optarg; break;
                case 's': selfcheck = true; break;
                case 'm': metrics = true; break;
                case 'e': exec_path = optarg; break;
                case 'f': {
                        char *eq = strchr(optarg, '=');
                        if (!eq || eq == optarg || n_files == MAX_FILES) {
                                usage(stderr);
                                return 2;
                        }
                        *eq = '\0';
                        files[n_files++] = (struct upload){ optarg, eq + 1 };
                        break;
                }
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 2;
                }
        if (optind != argc || selfcheck + metrics + !!exec_path > 1) {
                usage(stderr);
                return 2;
        }

        /* A failed write to a closed connection is an error return, not a signal. */
        signal(SIGPIPE, SIG_IGN);

        struct config *cfg = NULL;
        char err[768] = "";
        int r = config_load(config_path, &cfg, err, sizeof err);
        if (r < 0)
                log_error("%s", err);

        if (selfcheck) {
                if (!cfg) {
                        fprintf(stderr, "codejaild: %s\n", err);
                        return 1;
                }
                r = health_selfcheck(cfg);
        } else if (metrics) {
                if (!cfg) {
                        fprintf(stderr, "codejaild: %s\n", err);
                        return 1;
                }
                r = print_metrics(cfg);
        } else if (exec_path)
                r = run_exec(cfg, cfg ? NULL : err, exec_path, files, n_files);
        else {
                /* Before a byte of the request is read: a private network
                 * namespace, capabilities cut to the jail's, no_new_privs,
                 * the service's seccomp filter (harden.h). */
                const char *step = NULL;
                if (cfg && (r = harden_self(cfg, &step)) < 0) {
                        snprintf(err, sizeof err, "in-process hardening failed at %s: %s", step, strerror(-r));
                        log_error("%s", err);
                        config_free(cfg);
                        cfg = NULL;
                }
                /* Two processes from here: the request is read by one
                 * that holds no capability (privsep.h). */
                int fd = server_connection_fd();
                r = fd < 0 ? fd : privsep_serve(cfg, cfg ? NULL : err, fd);
        }
        config_free(cfg);
        return r;
}

int main(int argc, char **argv) {
        server_mark_process_start();
        int r = run(argc, argv);
        if (r < 0) {
                fprintf(stderr, "codejaild: %s\n", strerror(-r));
                return 1;
        }
        return r;
}
