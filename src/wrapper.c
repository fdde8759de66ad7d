/* The program the jail runs as `python -E -B jailed_code`.
 *
 * Its shape follows upstream codejail's generated jailed_code line for line,
 * so that a traceback through student code reads exactly as before
 * ('File "jailed_code", line 19, in <module>' / 'exec(code, g_dict)'):
 * a 17-line prologue, one sys.path.append line per python_path entry, then a
 * blank line and the exec at module level. It imports only what it uses
 * (sys, json): upstream's `import six` and simplejson probe are replaced by
 * comment lines of the same count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wrapper.h"

static const char head[] =
        "\n"
        "import sys\n"
        "import json\n"
        "# codejail-service jailed_code. Line numbers match upstream codejail's\n"
        "# generated program so tracebacks of student code read the same:\n"
        "# the exec below must stay on line 19 + len(python_path).\n"
        "\n"
        "\n"
        "class DevNull(object):\n"
        "    def write(self, *args, **kwargs):\n"
        "        pass\n"
        "\n"
        "    def flush(self, *args, **kwargs):\n"
        "        pass\n"
        "sys.stdout = DevNull()\n"
        "\n"
        "code, g_dict = json.load(sys.stdin)\n";

static const char path_line[] = "sys.path.append('python_lib.zip')\n";

static const char tail[] =
        "\n"
        "exec(code, g_dict)\n"
        "\n"
        "ok_types = (\n"
        "    type(None), int, float, bytes, str, list, tuple, dict\n"
        ")\n"
        "bad_keys = (\"__builtins__\",)\n"
        "def jsonable(v):\n"
        "    if not isinstance(v, ok_types):\n"
        "        return False\n"
        "    try:\n"
        "        json.dumps(v)\n"
        "    except Exception:\n"
        "        return False\n"
        "    return True\n"
        "g_dict = {\n"
        "    k:v\n"
        "    for k,v in g_dict.items()\n"
        "    if jsonable(v) and k not in bad_keys\n"
        "}\n"
        "\n"
        "json.dump(g_dict, sys.__stdout__)\n";

char *wrapper_build(size_t n_python_path, size_t *len) {
        if (n_python_path > 1024)
                return NULL;
        size_t n = sizeof head - 1 + n_python_path * (sizeof path_line - 1) + sizeof tail - 1;
        char *s = malloc(n + 1), *p = s;
        if (!s)
                return NULL;
        p = mempcpy(p, head, sizeof head - 1);
        for (size_t i = 0; i < n_python_path; i++)
                p = mempcpy(p, path_line, sizeof path_line - 1);
        p = mempcpy(p, tail, sizeof tail - 1);
        *p = '\0';
        if (len)
                *len = n;
        return s;
}
