/* SPDX-License-Identifier: Apache-2.0 */
/* pyjson_loads() and pyjson_scan() once each on a document of the parser's
 * worst shapes (small objects with a repeated key, then {}), for
 * tests/bench/pyjson-instr.sh to count their instructions. */
#include <stdio.h>
#include <stdlib.h>

#include "pyjson.h"

int main(int argc, char **argv) {
        size_t n = (argc > 1 ? strtoul(argv[1], NULL, 10) : 4) << 20, k = 0;
        char *b = malloc(n + 64);
        struct pyjson_error e;
        struct pyjson_index ix;

        if (!b)
                return 1;
        b[k++] = '[';
        while (k < n / 2)
                k += (size_t) sprintf(b + k, "{\"a\":1,\"b\":[1.5,\"xy\"],\"a\":2},");
        while (k < n)
                k += (size_t) sprintf(b + k, "{},");
        b[k - 1] = ']';
        json_t *v = pyjson_loads(b, k, 1000, &e);
        if (!v || pyjson_scan(b, k, 1000, &e, &ix) < 0) {
                fprintf(stderr, "pyjson-instr: %s\n", e.text);
                return 1;
        }
        json_decref(v);
        free(ix.dups);
        free(ix.pairs);
        free(b);
        return 0;
}
