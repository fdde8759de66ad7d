/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: the privileged side's reader of the execution request, the
 * only bytes it takes from the side that parses the client's -- exactly
 * the call privsep_supervise() makes (privsep_read_request: the framing
 * and the bound of a default config, then execmsg_parse_request). The
 * input is the message body; it is framed and sent through a socketpair
 * as the unprivileged side would. Beyond "no crash": whatever is accepted
 * is in bounds (plain, distinct file names; limits in range; python_path
 * count bounded) and re-encodes to exactly the bytes read. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf.h"
#include "execmsg.h"
#include "privsep.h"
#include "wrapper.h"

/* The body framed (magic "CJQ1", length) and read back by the privileged
 * side's reader; inputs too big for a socket buffer go to the parser. */
static int read_as_privileged(const uint8_t *data, size_t size, struct execmsg_request *r, char *err, size_t errlen) {
        static struct config *cfg;
        if (!cfg && config_new_default(&cfg) < 0)
                abort();
        if (size >= 60000) {
                char *buf = malloc(size + 1);
                if (!buf)
                        abort();
                memcpy(buf, data, size);
                buf[size] = '\0';
                return execmsg_parse_request(buf, size, r, err, errlen);
        }
        int sv[2];
        unsigned char h[8] = { 'C', 'J', 'Q', '1' };
        for (int i = 0; i < 4; i++)
                h[4 + i] = (unsigned char)(size >> (8 * i));
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 || write(sv[0], h, 8) != 8 ||
            (size && write(sv[0], data, size) != (ssize_t)size))
                abort();
        close(sv[0]);
        int ret = privsep_read_request(cfg, sv[1], r, err, errlen);
        close(sv[1]);
        return ret;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char err[200] = "";
        struct execmsg_request r;
        if (read_as_privileged(data, size, &r, err, sizeof err) < 0) {
                if (!err[0])
                        abort(); /* every refusal says why */
                return 0;
        }
        if (r.n_python_path > WRAPPER_MAX_PYTHON_PATH || r.n_files > EXECMSG_MAX_FILES)
                abort();
        for (size_t i = 0; i < r.n_files; i++) {
                const char *n = r.files[i].name;
                if (!n[0] || strchr(n, '/') || !strcmp(n, ".") || !strcmp(n, ".."))
                        abort();
                for (size_t k = 0; k < i; k++)
                        if (!strcmp(n, r.files[k].name))
                                abort();
        }
        for (int i = 0; i < _LIMIT_MAX; i++)
                if (!limit_valid((enum limit_id)i, r.limits.v[i]))
                        abort();
        /* Re-encoded, it is the message we read (small ones: a pipe holds them). */
        if (size < 60000) {
                int sv[2];
                struct jail_request view;
                if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
                        abort();
                execmsg_request_view(&r, &view);
                if (execmsg_send_request(sv[0], &view) < 0)
                        abort();
                char *again = malloc(size + 8);
                if (!again || read(sv[1], again, size + 8) != (ssize_t)(size + 8) || memcmp(again + 8, data, size) != 0)
                        abort();
                free(again);
                close(sv[0]);
                close(sv[1]);
        }
        execmsg_request_done(&r);
        return 0;
}
