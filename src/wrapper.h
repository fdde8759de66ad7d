#pragma once
#include <stddef.h>
/* The jailed_code program, shaped exactly like upstream codejail's so that
 * tracebacks carry the same line numbers: one sys.path.append line per
 * python_path entry between the prologue and `exec(code, g_dict)`.
 * Returns malloc'd text. */
char *wrapper_build(size_t n_python_path, size_t *len);
