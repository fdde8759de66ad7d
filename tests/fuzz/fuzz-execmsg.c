/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: the privileged side's reader of the execution request
 * (execmsg.c), the only bytes it takes from the side that parses the
 * client's. Beyond "no crash": whatever is accepted is in bounds (plain,
 * distinct file names; limits in range; python_path count bounded) and
 * re-encodes to exactly the bytes read. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "execmsg.h"
#include "wrapper.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *buf = malloc(size + 1), err[200];
        if (!buf)
                return 0;
        memcpy(buf, data, size);
        buf[size] = '\0';
        struct execmsg_request r;
        if (execmsg_parse_request(buf, size, &r, err, sizeof err) < 0) {
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
