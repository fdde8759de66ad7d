/* SPDX-License-Identifier: Apache-2.0 */
#pragma once
#include <stddef.h>
/* The jailed_code program, shaped exactly like upstream codejail's so that
 * tracebacks carry the same line numbers: one sys.path.append line per
 * python_path entry between the prologue and `exec(code, g_dict)`.
 * Returns malloc'd text. */
char *wrapper_build(size_t n_python_path, size_t *len);

/* python_path entries the wrapper writes lines for. Upstream writes one
 * line per entry with no bound; the only entry allowed is
 * 'python_lib.zip' and the LMS sends it once, so this bounds the wrapper
 * (~35 KiB) while keeping traceback line parity for any count up to it.
 * payload.c refuses more with a 400 before any jail exists. */
#define WRAPPER_MAX_PYTHON_PATH 1024
