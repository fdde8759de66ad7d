/* SPDX-License-Identifier: Apache-2.0 */
/* The program the jail runs as `python -E -B jailed_code`.
 *
 * Its shape follows upstream codejail's generated jailed_code line for line,
 * so that a traceback through student code reads exactly as before
 * ('File "jailed_code", line 19, in <module>' / 'exec(code, g_dict)'):
 * a 17-line prologue, one sys.path.append line per python_path entry, then a
 * blank line and the exec at module level. After it, codejail's json_safe()
 * (codejail-service(7) "Execution semantics": only None/int/float/bytes/str/list/tuple/
 * dict survive, bytes are decoded as UTF-8 at any depth, __builtins__ and
 * anything that does not survive a JSON round trip are dropped) filters
 * what goes to stdout.
 * It imports only sys (and json's C accelerator, see head[]): upstream's
 * `import six` and simplejson probe are gone, the line count kept. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wrapper.h"

/* Lines 1-17: the prologue. Its only line a traceback ever shows is the
 * exec below, so only the count matters. The json module's start-up is
 * mostly the `re` import of its pure-Python decoder and encoder (~4 ms of
 * a ~20 ms run, measured with -X importtime); json.loads()/json.dumps()
 * with default arguments end in its C accelerator, _json, which the
 * wrapper drives the same way -- on the interpreter versions the
 * differential test (tests/wrapper/differential.py) proved byte-identical
 * on, and through the json module everywhere else. */
static const char head[] =
        "\n"
        "import sys\n"
        "try: from _json import make_scanner, make_encoder, encode_basestring_ascii\n"
        "except ImportError: make_scanner = None\n"
        "class _Decoding: strict = True; object_hook = object_pairs_hook = None; parse_float = float; parse_int = int; "
        "parse_constant = {'-Infinity': float('-inf'), 'Infinity': float('inf'), 'NaN': float('nan')}.__getitem__; "
        "memo = {}\n"
        "_FAST = make_scanner is not None and sys.version_info[:2] in ((3, 11), (3, 13))\n"
        "_loads = (lambda s, scan=make_scanner(_Decoding()): scan(s, 0)[0]) if _FAST else __import__('json').loads\n"
        "# codejail-service jailed_code: line numbers match upstream codejail's (exec on line 19 + len(python_path)).\n"
        "class DevNull(object):\n"
        "    def write(self, *args, **kwargs):\n"
        "        pass\n"
        "\n"
        "    def flush(self, *args, **kwargs):\n"
        "        pass\n"
        "sys.stdout = DevNull()\n"
        "\n"
        "code, g_dict = _loads(sys.stdin.read())\n";

static const char path_line[] = "sys.path.append('python_lib.zip')\n";

/* After the exec: codejail's json_safe() unchanged but for its JSON round
 * trip and the final dump, which take the C accelerator as json.dumps()
 * (one shot, a fresh encoder per call) and json.loads() do -- for values
 * nested at most 100 deep: deeper ones meet the recursion limit, where the
 * json module's own Python frames decide what survives, so they (and the
 * whole dump then) go through the json module itself. */
static const char tail[] =
        "\n"
        "exec(code, g_dict)\n"
        "\n"
        "def _unserializable(o):\n"
        "    raise TypeError(f'Object of type {o.__class__.__name__} is not JSON serializable')\n"
        "def _dumps(o):\n"
        "    return ''.join(make_encoder({}, _unserializable, encode_basestring_ascii, None, ': ', ', ', False, False,\n"
        "                                True)(o, 0))\n"
        "def _shallow(o, limit=100):\n"
        "    stack = [(o, 0)]\n"
        "    while stack:\n"
        "        o, depth = stack.pop()\n"
        "        if isinstance(o, (list, tuple, dict)):\n"
        "            if depth >= limit:\n"
        "                return False\n"
        "            stack.extend((v, depth + 1) for v in (o.values() if isinstance(o, dict) else o))\n"
        "    return True\n"
        "_deep = not _FAST\n"
        "def _roundtrip(v):\n"
        "    global _deep\n"
        "    if _FAST and _shallow(v):\n"
        "        return _loads(_dumps(v))\n"
        "    _deep = True\n"
        "    json = __import__('json')\n"
        "    return json.loads(json.dumps(v))\n"
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
        "            _roundtrip(v)\n"
        "        except Exception:\n"
        "            continue\n"
        "        else:\n"
        "            jd[k] = v\n"
        "    return _roundtrip(jd)\n"
        "\n"
        "_result = json_safe(g_dict)\n"
        "if _deep:\n"
        "    __import__('json').dump(_result, sys.__stdout__)\n"
        "else:\n"
        "    sys.__stdout__.write(_dumps(_result))\n";

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
