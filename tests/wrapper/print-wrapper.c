/* SPDX-License-Identifier: Apache-2.0 */
/* Prints the jailed_code the service writes for N python_path entries
 * (tests/wrapper/differential.py runs it bare under each interpreter). */
#include <stdio.h>
#include <stdlib.h>

#include "wrapper.h"

int main(int argc, char **argv) {
        size_t len;
        char *w = wrapper_build(argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 0, &len);
        if (!w || fwrite(w, 1, len, stdout) != len)
                return 1;
        free(w);
        return 0;
}
