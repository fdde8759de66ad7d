#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Regenerates tests/data/pyrepr/<case>/{input,expected}: expected is
# CPython 3.11's repr() of the input bytes (no trailing newline).
#   /usr/bin/python3 tests/data/pyrepr/generate.py
import os, random, shutil

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = {
    'empty': b'', 'plain': b'hello world', 'single-quote': b"it's", 'double-quote': b'say "hi"',
    'both-quotes': b'it\'s "x"', 'backslash': b'a\\b', 'tab-nl-cr': b'a\tb\nc\rd',
    'controls': bytes(range(0, 32)), 'del-and-high': b'\x7f\x80\xff', 'utf8': 'héllo 😀'.encode(),
    'traceback': b'Traceback (most recent call last):\n  File "jailed_code", line 19, in <module>\n'
                 b'    exec(code, g_dict)\nNameError: name \'x\' is not defined\n',
    'all-bytes': bytes(range(256)), 'nul': b'\x00',
}

def main():
    rnd = random.Random(42)
    cases = dict(CASES)
    for i in range(50):
        cases['random-%02d' % i] = bytes(rnd.choice(b'\'"\\\t\n\r ab\x00\x7f\x80\xfe') if rnd.random() < 0.5
                                         else rnd.randrange(256) for _ in range(rnd.randrange(1, 40)))
    for name in os.listdir(HERE):
        if os.path.isdir(os.path.join(HERE, name)):
            shutil.rmtree(os.path.join(HERE, name))
    for name, raw in cases.items():
        d = os.path.join(HERE, name)
        os.makedirs(d)
        with open(os.path.join(d, 'input'), 'wb') as f:
            f.write(raw)
        with open(os.path.join(d, 'expected'), 'w') as f:
            f.write(repr(raw))
    print(len(cases), 'cases')

main()
