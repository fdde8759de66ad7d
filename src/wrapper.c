/* The program the jail runs as `python -E -B jailed_code`.
 *
 * Its shape follows upstream codejail's generated jailed_code line for line,
 * so that a traceback through student code reads exactly as before
 * ('File "jailed_code", line 19, in <module>' / 'exec(code, g_dict)'):
 * a 17-line prologue, one sys.path.append line per python_path entry, then a
 * blank line and the exec at module level. After it, codejail's json_safe()
 * (SPEC §4: only None/int/float/bytes/str/list/tuple/dict survive, bytes are
 * decoded as UTF-8 at any depth, __builtins__ and anything that does not
 * survive a JSON round trip are dropped) filters what goes to stdout.
 * It imports only what it uses (sys, json): upstream's `import six` and
 * simplejson probe are replaced by comment lines of the same count. */
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
        "def json_safe(d):\n"
        "    ok_types = (type(None), int, float, bytes, str, list, tuple, dict)\n"
        "    def decode_object(obj):\n"
        "        if isinstance(obj, bytes):\n"
        "            return obj.decode('utf-8')\n"
        "        elif isinstance(obj, (list, tuple)):\n"
        "            new_list = []\n"
        "            for i in obj:\n"
        "                try:\n"
        "                    new_obj = decode_object(i)\n"
        "                    new_list.append(new_obj)\n"
        "                except UnicodeDecodeError:\n"
        "                    pass\n"
        "            return new_list\n"
        "        elif isinstance(obj, dict):\n"
        "            new_dict = {}\n"
        "            for k, v in obj.items():\n"
        "                try:\n"
        "                    new_key = decode_object(k)\n"
        "                    new_value = decode_object(v)\n"
        "                    new_dict[new_key] = new_value\n"
        "                except UnicodeDecodeError:\n"
        "                    pass\n"
        "            return new_dict\n"
        "        else:\n"
        "            return obj\n"
        "    bad_keys = (\"__builtins__\",)\n"
        "    jd = {}\n"
        "    for k, v in d.items():\n"
        "        if not isinstance(v, ok_types):\n"
        "            continue\n"
        "        if k in bad_keys:\n"
        "            continue\n"
        "        try:\n"
        "            v = decode_object(v)\n"
        "            json.loads(json.dumps(v))\n"
        "        except Exception:\n"
        "            continue\n"
        "        else:\n"
        "            jd[k] = v\n"
        "    return json.loads(json.dumps(jd))\n"
        "\n"
        "json.dump(json_safe(g_dict), sys.__stdout__)\n";

char *wrapper_build(size_t n_python_path, size_t *len) {
        if (n_python_path > WRAPPER_MAX_PYTHON_PATH)
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
