#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Regenerates tests/data/payload/<case>/{input,files,expected}.
#   /usr/bin/python3 tests/data/payload/generate.py
# input: the payload form field; files: uploaded file names, one a line;
# expected: "ok" or "<log status>\n<error message>".
# JSON errors and repr() come from CPython 3.11 itself. The schema step
# models jsonschema.validate(payload, upstream_schema) as best_match reports
# it: shortest path first, non-anyOf before anyOf at equal depth, schema
# order otherwise; an anyOf error shows its deepest alternative error, the
# first alternative on a tie (python-jsonschema without the tie rule).
import json, os, shutil

HERE = os.path.dirname(os.path.abspath(__file__))
LIB = 'python_lib.zip'

def schema_error(p):
    if not isinstance(p, dict):
        return '$', "%r is not of type 'object'" % (p,)
    for k in ('code', 'globals_dict'):
        if k not in p:
            return '$', '%r is a required property' % k
    strong, weak = [], []
    if 'code' in p and not isinstance(p['code'], str):
        strong.append(('$.code', "%r is not of type 'string'" % (p['code'],)))
    if 'globals_dict' in p and not isinstance(p['globals_dict'], dict):
        strong.append(('$.globals_dict', "%r is not of type 'object'" % (p['globals_dict'],)))
    if 'python_path' in p and p['python_path'] is not None:
        v = p['python_path']
        if not isinstance(v, list):
            weak.append(('$.python_path', "%r is not of type 'array'" % (v,)))
        else:
            for i, e in enumerate(v):
                if not isinstance(e, str):
                    weak.append(('$.python_path[%d]' % i, "%r is not of type 'string'" % (e,)))
                    break
    for k in ('limit_overrides_context', 'slug'):
        if k in p and p[k] is not None and not isinstance(p[k], str):
            weak.append(('$.' + k, "%r is not of type 'string'" % (p[k],)))
    if 'unsafely' in p and not isinstance(p['unsafely'], bool):
        strong.append(('$.unsafely', "%r is not of type 'boolean'" % (p['unsafely'],)))
    return (strong + weak)[0] if strong or weak else None

MAX_DEPTH = 512  # PAYLOAD_MAX_DEPTH: we refuse before CPython's RecursionError

def too_deep(v, depth=0):
    """Kind of the first container (document order) nested deeper than MAX_DEPTH."""
    if isinstance(v, (dict, list)):
        if depth == MAX_DEPTH:
            return 'object' if isinstance(v, dict) else 'array'
        for x in (v.values() if isinstance(v, dict) else v):
            r = too_deep(x, depth + 1)
            if r:
                return r
    return None

def check(text, files):
    try:
        p = json.loads(text)
    except (ValueError, RecursionError) as e:
        return 'invalid.payload.bad_json\nUnable to parse payload JSON: %s' % e
    kind = too_deep(p)
    if kind:
        return ('invalid.payload.bad_json\nUnable to parse payload JSON: maximum recursion depth exceeded '
                'while decoding a JSON %s from a unicode string' % kind)
    err = schema_error(p)
    if err:
        return 'invalid.payload.schema_mismatch\nPayload JSON did not match schema at path %s: %s' % err
    if any(e != LIB for e in (p.get('python_path') or [])):
        return "invalid.python_path\nOnly allowed entry in 'python_path' is 'python_lib.zip'"
    if any(f != LIB for f in files):
        return "invalid.files\nOnly allowed name for uploaded file is 'python_lib.zip'"
    if p.get('unsafely'):
        return 'invalid.unsafely\nRefusing codejail execution with unsafely=true'
    return 'ok'

G = '"globals_dict": {}'
CASES = {
    'ok-minimal': ('{"code": "x = 1", %s}' % G, []),
    'ok-full': ('{"code": "x", "globals_dict": {"a": NaN, "b": "\\ud800"}, "python_path": ["python_lib.zip"], '
                '"limit_overrides_context": "course-v1:x", "slug": "s", "unsafely": false}', [LIB]),
    'ok-nulls': ('{"code": "", %s, "python_path": null, "limit_overrides_context": null, "slug": null}' % G, []),
    'ok-extra-keys': ('{"code": "", %s, "other": 5}' % G, []),
    'ok-dup-key-last-wins': ('{"code": 5, %s, "code": "x"}' % G, []),
    'bad-json-empty': ('', []),
    'bad-json-garbage': ('code=x', []),
    'bad-json-trailing': ('{"code": "x", %s} x' % G, []),
    'bad-json-unterminated': ('{"code": "x', []),
    'bad-json-bom': ('\ufeff{}', []),
    'bad-json-control': ('{"code": "a\nb", %s}' % G, []),
    'bad-json-deep': ('[' * 600 + ']' * 600, []),
    'bad-json-deep-mixed': ('{"code": "", "globals_dict": ' + '{"a": [' * 256 + '{}' + ']}' * 256 + '}', []),
    'ok-depth-512': ('{"code": "", "globals_dict": {"a": ' + '[' * 510 + ']' * 510 + '}}', []),
    'bad-json-depth-513': ('{"code": "", "globals_dict": {"a": ' + '[' * 511 + ']' * 511 + '}}', []),
    'schema-root-list': ('[]', []), 'schema-root-string': ('"abc"', []), 'schema-root-nan': ('NaN', []),
    'schema-root-null': ('null', []), 'schema-root-int': ('5', []), 'schema-root-float': ('1e16', []),
    'schema-missing-code': ('{%s}' % G, []), 'schema-missing-globals': ('{"code": "x"}', []),
    'schema-missing-both': ('{}', []),
    'schema-missing-globals-bad-code': ('{"code": 5}', []),
    'schema-code-int': ('{"code": 5, %s}' % G, []), 'schema-code-null': ('{"code": null, %s}' % G, []),
    'schema-code-bool': ('{"code": true, %s}' % G, []), 'schema-code-list': ('{"code": ["a", 1.5], %s}' % G, []),
    'schema-code-nan': ('{"code": -Infinity, %s}' % G, []),
    'schema-code-bigint': ('{"code": 123456789012345678901234567890, %s}' % G, []),
    'schema-globals-list': ('{"code": "x", "globals_dict": []}', []),
    'schema-globals-str': ('{"code": "x", "globals_dict": "it\'s"}', []),
    'schema-globals-nan': ('{"code": "x", "globals_dict": NaN}', []),
    'schema-code-and-globals': ('{"code": 1, "globals_dict": 2}', []),
    'schema-python-path-str': ('{"code": "x", %s, "python_path": "abc"}' % G, []),
    'schema-python-path-obj': ('{"code": "x", %s, "python_path": {"a": 1}}' % G, []),
    'schema-python-path-item': ('{"code": "x", %s, "python_path": ["python_lib.zip", 5, null]}' % G, []),
    'schema-python-path-item-nested': ('{"code": "x", %s, "python_path": [["\\u00e9"]]}' % G, []),
    'schema-context-int': ('{"code": "x", %s, "limit_overrides_context": 5}' % G, []),
    'schema-slug-list': ('{"code": "x", %s, "slug": ["a"]}' % G, []),
    'schema-unsafely-str': ('{"code": "x", %s, "unsafely": "yes"}' % G, []),
    'schema-unsafely-int': ('{"code": "x", %s, "unsafely": 1}' % G, []),
    'schema-unsafely-null': ('{"code": "x", %s, "unsafely": null}' % G, []),
    'schema-strong-beats-weak': ('{"code": "x", %s, "python_path": 5, "unsafely": 3}' % G, []),
    'schema-code-beats-weak': ('{"code": 1, %s, "slug": 5}' % G, []),
    'schema-weak-order': ('{"slug": 1, "limit_overrides_context": 2, "python_path": 3, "code": "", %s}' % G, []),
    'schema-weak-order2': ('{"code": "", %s, "slug": 1, "limit_overrides_context": 2}' % G, []),
    'schema-before-python-path': ('{"code": "", %s, "python_path": ["x", 1]}' % G, []),
    'python-path-other': ('{"code": "", %s, "python_path": ["python_lib.zip", "other.zip"]}' % G, []),
    'python-path-prefix': ('{"code": "", %s, "python_path": ["python_lib.zip\\u0000"]}' % G, []),
    'python-path-before-files': ('{"code": "", %s, "python_path": ["x"]}' % G, ['evil']),
    'files-other': ('{"code": "", %s}' % G, [LIB, 'other.zip']),
    'files-before-unsafely': ('{"code": "", %s, "unsafely": true}' % G, ['x']),
    'files-ok-unsafely': ('{"code": "", %s, "unsafely": true}' % G, [LIB]),
    'unsafely-false': ('{"code": "", %s, "unsafely": false}' % G, []),
    'schema-repr-unicode': ('{"code": ["\\u00e9\\u4e2d\\u0000\\ud800\'"], %s}' % G, []),
}

def main():
    for name in os.listdir(HERE):
        if os.path.isdir(os.path.join(HERE, name)):
            shutil.rmtree(os.path.join(HERE, name))
    for name, (text, files) in CASES.items():
        d = os.path.join(HERE, name)
        os.makedirs(d)
        with open(os.path.join(d, 'input'), 'w', encoding='utf-8') as f:
            f.write(text)
        if files:
            with open(os.path.join(d, 'files'), 'w') as f:
                f.write(''.join(x + '\n' for x in files))
        with open(os.path.join(d, 'expected'), 'w', encoding='utf-8', errors='surrogatepass') as f:
            f.write(check(text, files) + '\n')
    print(len(CASES), 'cases')

main()
