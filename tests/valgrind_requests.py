# SPDX-License-Identifier: Apache-2.0
"""A handful of requests, one connection each, for tests/sanitize.sh's
valgrind tier: every route and rejection path of the HTTP side.
usage: valgrind_requests.py PORT   (loopback only)"""
import json
import socket
import sys
import urllib.parse

PORT = int(sys.argv[1])
P = '{"code": "x = x + 1", "globals_dict": {"x": 16, "n": NaN, "s": "\\ud800"}}'


def raw(data, timeout=60):
    s = socket.create_connection(("127.0.0.1", PORT), timeout=timeout)
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            b = s.recv(65536)
            if not b:
                return out
            out += b
    finally:
        s.close()


def post(body, ctype, extra=b""):
    return raw(b"POST /api/v0/code-exec HTTP/1.1\r\nHost: x\r\nContent-Type: " + ctype.encode() +
               b"\r\nContent-Length: %d\r\n" % len(body) + extra + b"\r\n" + body)


def urlenc(payload):
    return post(urllib.parse.urlencode({"payload": payload}).encode(), "application/x-www-form-urlencoded")


def multipart(payload, fname="python_lib.zip"):
    b = ("--B\r\nContent-Disposition: form-data; name=\"payload\"\r\n\r\n" + payload +
         "\r\n--B\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n\r\nPK\x03\x04"
         "\r\n--B--\r\n" % (fname, fname)).encode()
    return post(b, "multipart/form-data; boundary=B")


cases = [
    ("health", lambda: raw(b"GET /health/ HTTP/1.1\r\nHost: x\r\n\r\n"), (200, 503)),
    ("head health", lambda: raw(b"HEAD /health HTTP/1.0\r\n\r\n"), (200, 503)),
    ("404", lambda: raw(b"GET /nope HTTP/1.1\r\n\r\n"), (404,)),
    ("405", lambda: raw(b"GET /api/v0/code-exec HTTP/1.1\r\n\r\n"), (405,)),
    ("exec urlencoded", lambda: urlenc(P), (200, 500)),
    ("exec multipart", lambda: multipart(P), (200, 500)),
    ("bad json", lambda: urlenc('{"code": '), (400,)),
    ("schema", lambda: urlenc('{"code": 5, "globals_dict": {}}'), (400,)),
    ("bad file", lambda: multipart(P, "evil.zip"), (400,)),
    ("unsafely", lambda: urlenc('{"code": "", "globals_dict": {}, "unsafely": true}'), (400,)),
    ("deep", lambda: urlenc("[" * 100000), (400,)),
    ("missing", lambda: post(b"a=b", "application/x-www-form-urlencoded"), (400,)),
    ("415", lambda: post(b"{}", "application/json"), (415,)),
    ("413", lambda: raw(b"POST /api/v0/code-exec HTTP/1.1\r\nContent-Length: 900000000\r\n\r\n"), (413,)),
    ("431", lambda: raw(b"GET / HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n"), (431,)),
    ("cl+te", lambda: raw(b"POST /api/v0/code-exec HTTP/1.1\r\nContent-Length: 4\r\n"
                          b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), (400,)),
    ("chunked+expect", lambda: raw(b"POST /api/v0/code-exec HTTP/1.1\r\nExpect: 100-continue\r\n"
                                   b"Content-Type: application/x-www-form-urlencoded\r\n"
                                   b"Transfer-Encoding: chunked\r\n\r\n3\r\na=b\r\n0\r\n\r\n"), (400,)),
    ("truncated", lambda: raw(b"POST /api/v0/code-exec HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"), (400,)),
    ("garbage", lambda: raw(b"\x00\xff\x16\x03\x01garbage\r\n\r\n"), (400,)),
]
bad = 0
for name, fn, want in cases:
    out = fn()
    while out.startswith(b"HTTP/1.1 1") and b"\r\n\r\n" in out:  # interim responses
        out = out.split(b"\r\n\r\n", 1)[1]
    status = int(out.split(b" ", 2)[1]) if out.startswith(b"HTTP/1.1 ") else None
    ok = status in want
    if ok and b"\r\n\r\n" in out and status != 200 and not name.startswith("head"):
        json.loads(out.split(b"\r\n\r\n")[-1])
    print(("ok   " if ok else "FAIL ") + "valgrind request %s: %s" % (name, status))
    bad += not ok
sys.exit(1 if bad else 0)
