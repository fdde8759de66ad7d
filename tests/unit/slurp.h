/* SPDX-License-Identifier: Apache-2.0 */
/* A test data file as a string, trailing newlines cut (NULL if missing). */
#pragma once

#include <stdio.h>
#include <stdlib.h>

static inline char *slurp(const char *path) {
        FILE *f = fopen(path, "rb");
        if (!f)
                return NULL;
        char *buf = calloc(1, 65536);
        size_t n = buf ? fread(buf, 1, 65535, f) : 0;
        fclose(f);
        while (n > 0 && buf[n - 1] == '\n')
                buf[--n] = 0;
        return buf;
}
