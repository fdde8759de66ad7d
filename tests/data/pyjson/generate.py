#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Regenerates tests/data/pyjson/<case>/{input,expected} from CPython 3.11:
#   /usr/bin/python3 tests/data/pyjson/generate.py
# The payload is decoded as Django does (UTF-8, errors='replace') and fed to
# json.loads. expected is "error: <str(exception)>" or
# "dumps: <json.dumps(obj)>" and "repr: <repr(obj)>" lines.
import json, os, random, shutil, struct, sys

HERE = os.path.dirname(os.path.abspath(__file__))

CASES = {
    # values
    'null': b'null', 'true': b'true', 'false': b'false',
    'int-zero': b'0', 'int-negzero': b'-0', 'int-neg': b'-17', 'int-max64': b'9223372036854775807',
    'int-min64': b'-9223372036854775808', 'int-over64': b'9223372036854775808',
    'int-under64': b'-9223372036854775809', 'int-big': b'123456789012345678901234567890123',
    'int-4300-digits': b'9' * 4300, 'int-4301-digits': b'9' * 4301, 'int-neg-4301-digits': b'-' + b'9' * 4301,
    'float-simple': b'1.5', 'float-negzero': b'-0.0', 'float-exp': b'1e5', 'float-exp-upper': b'2E-3',
    'float-exp-plus': b'1.25e+10', 'float-tiny': b'5e-324', 'float-under': b'-1e-400',
    'float-over': b'1e400', 'float-negover': b'-1e400', 'float-1e16': b'1e16', 'float-1e15': b'1e15',
    'float-1e-5': b'0.00001', 'float-1e-4': b'0.0001', 'float-max': b'1.7976931348623157e308',
    'float-point1': b'0.1', 'float-third': b'0.3333333333333333', 'float-long': b'3.141592653589793238462643383279',
    'float-100000': b'100000.0', 'float-int-exp': b'1E2',
    'nan': b'NaN', 'inf': b'Infinity', 'neginf': b'-Infinity',
    'nan-in-list': b'[NaN, Infinity, -Infinity, 1]',
    'string-empty': b'""', 'string-simple': b'"abc"', 'string-escapes': b'"\\" \\\\ \\/ \\b \\f \\n \\r \\t"',
    'string-u-escapes': b'"\\u0041\\u00e9\\u4e2d\\u0000\\u001f\\u007f"',
    'string-utf8': '"héllo wörld € 中文 😀"'.encode(),
    'string-pair': b'"\\ud83d\\ude00"', 'string-lone-high': b'"\\ud800"', 'string-lone-low': b'"\\udc00"',
    'string-high-then-char': b'"\\ud800x"', 'string-high-then-A': b'"\\ud800\\u0041"',
    'string-high-high': b'"\\ud800\\ud800"', 'string-reversed-pair': b'"\\udc00\\ud800"',
    'string-quotes-single': b'"it\'s"', 'string-quotes-both': b'"it\'s \\"x\\""',
    'string-upper-hex': b'"\\u00C9\\uABCD"',
    'string-nonprintable': b'"\\u00a0\\u00ad\\u2028\\u200b\\ufeff\\ue000\\u0085"',
    'string-astral-private': b'"\\udb80\\udc00"',
    'invalid-utf8-lone-cont': b'"a\x80b"', 'invalid-utf8-truncated': b'"a\xe4\xb8"',
    'invalid-utf8-overlong': b'"\xc0\xaf"', 'invalid-utf8-surrogate': b'"\xed\xa0\x80"',
    'invalid-utf8-f5': b'"\xf5\x80\x80\x80"', 'invalid-utf8-then-error': b'"\xff\xfe" x',
    'invalid-utf8-error-pos': b'["\xe4\xb8", \xff]',
    'utf8-error-pos': '["中文😀", x]'.encode(),
    'utf8-error-newlines': '[\n"é",\n  "😀" 1]'.encode(),
    'nested': b'{"a": [1, {"b": null}], "c": {"d": [true, false]}, "e": []}',
    'dup-keys': b'{"a": 1, "b": 2, "a": 3}', 'empty-obj': b'{}', 'empty-arr': b'[]',
    'empty-with-ws': b'{ \n }', 'ws-all': b' \t\r\n[ 1 , 2 ] \t\r\n',
    'key-escape': b'{"\\u0000k\\n": 1, "\\ud800": 2}',
    # errors
    'err-empty': b'', 'err-ws-only': b'  \n ', 'err-bom': b'\xef\xbb\xbf{}',
    'err-trailing-comma-arr': b'[1,]', 'err-trailing-comma-obj': b'{"a":1,}',
    'err-missing-colon': b'{"a" 1}', 'err-missing-comma': b'[1 2]', 'err-missing-comma-obj': b'{"a":1 "b":2}',
    'err-nonstring-key': b'{1:2}', 'err-single-quote': b"{'a':1}", 'err-unclosed-arr': b'[1, 2',
    'err-unclosed-obj': b'{"a": 1', 'err-unclosed-obj2': b'{"a"', 'err-unclosed-obj3': b'{"a":',
    'err-unclosed-str': b'"abc', 'err-unclosed-str-escape': b'"abc\\', 'err-control': b'"a\x01b"',
    'err-control-newline': b'"a\nb"', 'err-control-tab': b'"a\tb"', 'err-bad-escape': b'"\\x41"',
    'err-bad-escape-nonascii': '"\\é"'.encode(), 'err-u-short': b'"\\u12"', 'err-u-end': b'"\\u1234',
    'err-u-nonhex': b'"\\uzzzz"', 'err-pair-short': b'"\\ud800\\u12"', 'err-pair-nonhex': b'"\\ud800\\uzzzz"',
    'err-pair-end': b'"\\ud800\\udc00', 'err-pair-end2': b'"\\ud800\\udc00"', 'err-u-nonascii': '"\\u12é4"'.encode(),
    'err-minus': b'-', 'err-minus-x': b'-x', 'err-dot': b'.5', 'err-trailing-dot': b'1.', 'err-leading-zero': b'01',
    'err-exp-empty': b'1e', 'err-exp-sign': b'1e+', 'err-exp-sign-end': b'[1e+]', 'err-plus': b'+1',
    'err-nul': b'nul', 'err-tru': b'tru', 'err-nan-lower': b'nan', 'err-infinity-short': b'Infinit',
    'err-neg-infinity-short': b'-Infinit', 'err-extra': b'1 2', 'err-extra-obj': b'{} []',
    'err-extra-nul': b'1\x00', 'err-nul-start': b'\x00', 'err-hex': b'0x10', 'err-multiline': b'[\n1,\n\n  x]',
    'err-crlf': b'[\r\n1,\r\n x]', 'err-comment': b'[1, // c\n2]', 'err-deep-pos': b'[[[[{"a": [1, 2, }]]]]',
    'err-big-int-in-list': b'[1, ' + b'1' * 5000 + b']',
}

def run(raw):
    s = raw.decode('utf-8', 'replace')
    try:
        obj = json.loads(s)
    except (ValueError, RecursionError) as e:
        return 'error: %s\n' % e
    return 'dumps: %s\nrepr: %r\n' % (json.dumps(obj), obj)

def fuzz_cases(n):
    rnd = random.Random(20261126)
    alphabet = ['{', '}', '[', ']', ',', ':', ' ', '\n', '"', '"a"', '1', '-', '0', '.', 'e', 'E', '+',
                'true', 'null', 'NaN', '-Infinity', '\\', '\\u', 'd800', '\\n', 'é', '😀', 'x', '\t', '\x01']
    out = {}
    for i in range(n):
        k = rnd.randint(1, 12)
        out['fuzz-%03d' % i] = ''.join(rnd.choice(alphabet) for _ in range(k)).encode()
    return out

def float_cases(n):
    rnd = random.Random(7)
    vals = []
    for _ in range(n):
        kind = rnd.randrange(4)
        if kind == 0:
            v = struct.unpack('<d', rnd.getrandbits(64).to_bytes(8, 'little'))[0]
            if v != v or v in (float('inf'), float('-inf')):
                continue
        elif kind == 1:
            v = rnd.uniform(-1e6, 1e6)
        elif kind == 2:
            v = round(rnd.uniform(-1000, 1000), rnd.randrange(6))
        else:
            v = rnd.random() * 10 ** rnd.randrange(-30, 30)
        vals.append(v)
    return {'floats-random': json.dumps(vals).encode(),
            'floats-powers': json.dumps([10.0 ** e for e in range(-30, 30)] + [2.0 ** e for e in range(-60, 70, 7)]).encode()}

def main():
    cases = dict(CASES)
    cases.update(fuzz_cases(200))
    cases.update(float_cases(400))
    for name in os.listdir(HERE):
        if os.path.isdir(os.path.join(HERE, name)):
            shutil.rmtree(os.path.join(HERE, name))
    for name, raw in cases.items():
        d = os.path.join(HERE, name)
        os.makedirs(d)
        with open(os.path.join(d, 'input'), 'wb') as f:
            f.write(raw)
        with open(os.path.join(d, 'expected'), 'w', encoding='utf-8', errors='surrogatepass') as f:
            f.write(run(raw))
    print(len(cases), 'cases')

main()
