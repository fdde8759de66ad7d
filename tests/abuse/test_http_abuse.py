# SPDX-License-Identifier: Apache-2.0
"""Hostile bytes on port 8080: slowloris, connection floods, request
smuggling forms, oversized and malformed requests. Bounded: every test
ends within a few request_timeout_s."""
import json
import random
import socket
import threading
import time
import urllib.parse

import pytest

from conftest import PORT, TIMEOUT_S, connect, normal_request_ok, parse, raw, read_all

SLACK_S = 2.0


def trickle(head, chunks, interval):
    """Send head, then chunks one by one every interval until the server
    closes; returns (response bytes, seconds from connect to close)."""
    t0 = time.monotonic()
    s = connect(timeout=TIMEOUT_S + 10)
    try:
        s.sendall(head)
        for c in chunks:
            time.sleep(interval)
            try:
                s.sendall(c)
            except (BrokenPipeError, ConnectionResetError):
                break
            if time.monotonic() - t0 > TIMEOUT_S + 10:
                break
        s.settimeout(TIMEOUT_S + 10)
        out = read_all(s)
    finally:
        s.close()
    return out, time.monotonic() - t0


def test_slowloris_headers_cut_by_deadline():
    head = b"POST /api/v0/code-exec HTTP/1.1\r\n"
    chunks = [b"X-Slow-%d: a\r\n" % i for i in range(200)]
    out, took = trickle(head, chunks, 0.2)
    r = parse(out).well_formed()
    assert r.status == 408, r
    assert took < TIMEOUT_S + SLACK_S, took


def test_slowloris_body_cut_by_deadline():
    body = urllib.parse.urlencode({"payload": json.dumps({"code": "x=1", "globals_dict": {}})}).encode()
    head = (b"POST /api/v0/code-exec HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body))
    out, took = trickle(head, [body[i:i + 1] for i in range(len(body))], 0.2)
    r = parse(out).well_formed()
    assert r.status == 408, r
    assert took < TIMEOUT_S + SLACK_S, took


def test_slowloris_chunked_body_cut_by_deadline():
    head = (b"POST /api/v0/code-exec HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    out, took = trickle(head, [b"1\r\na\r\n"] * 200, 0.2)
    assert parse(out).well_formed().status == 408
    assert took < TIMEOUT_S + SLACK_S, took


def test_200_idle_connections_then_normal_request():
    idle = []
    try:
        for _ in range(200):
            idle.append(connect(timeout=TIMEOUT_S + 15))
        # every connection has its own instance: a normal request is served
        # while the idle ones are still open ...
        normal_request_ok()
        # ... and every idle one is cut by its deadline (408, then close)
        t0 = time.monotonic()
        statuses = set()
        for s in idle:
            statuses.add(parse(read_all(s)).status)
        assert time.monotonic() - t0 < TIMEOUT_S + 10
        assert statuses <= {408}, statuses
    finally:
        for s in idle:
            s.close()
    normal_request_ok()


SMUGGLING = {
    "cl-te": b"POST /api/v0/code-exec HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n"
             b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nG",
    "te-cl": b"POST /api/v0/code-exec HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
             b"Content-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n",
    "duplicate-cl": b"POST /api/v0/code-exec HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                    b"Content-Length: 40\r\n\r\nabc",
    "duplicate-cl-same": b"POST /api/v0/code-exec HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                         b"Content-Length: 3\r\n\r\nabc",
    "cl-list": b"POST /api/v0/code-exec HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc",
    "obs-fold": b"POST /api/v0/code-exec HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n 3\r\n\r\nabc",
    "obs-fold-te": b"POST /api/v0/code-exec HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n"
                   b" chunked\r\n\r\n0\r\n\r\n",
    "bare-lf": b"POST /api/v0/code-exec HTTP/1.1\nHost: x\nContent-Length: 3\n\nabc",
    "bare-lf-one-line": b"POST /api/v0/code-exec HTTP/1.1\r\nHost: x\nContent-Length: 3\r\n\r\nabc",
    "bare-cr": b"POST /api/v0/code-exec HTTP/1.1\r\nHost: x\rContent-Length: 3\r\n\r\nabc",
    "te-obfuscated": b"POST /api/v0/code-exec HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n",
    "te-space-before-colon": b"POST /api/v0/code-exec HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked"
                             b"\r\n\r\n0\r\n\r\n",
    "cl-negative": b"POST /api/v0/code-exec HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    "cl-plus": b"POST /api/v0/code-exec HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc",
    "chunk-size-overflow": b"POST /api/v0/code-exec HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                           b"ffffffffffffffffff1\r\nabc\r\n0\r\n\r\n",
    "nul-in-header": b"POST /api/v0/code-exec HTTP/1.1\r\nHost: x\x00y\r\nContent-Length: 0\r\n\r\n",
}


@pytest.mark.parametrize("name", sorted(SMUGGLING))
def test_smuggling_forms_rejected(name):
    out = raw(SMUGGLING[name])
    r = parse(out).well_formed()
    assert r.status in (400, 413), r  # 413: chunk size beyond any body limit
    assert out.count(b"HTTP/1.1 ") == 1, "more than one response: %r" % out


def test_900mb_declared_body_refused_without_reading():
    s = connect(timeout=10)
    try:
        t0 = time.monotonic()
        s.sendall(b"POST /api/v0/code-exec HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 943718400\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        r = parse(read_all(s)).well_formed()
        assert r.status == 413, r
        assert b"100 Continue" not in r.raw
        assert time.monotonic() - t0 < 2, "waited for the body"
    finally:
        s.close()


def test_huge_chunk_refused_before_its_bytes():
    s = connect(timeout=10)
    try:
        t0 = time.monotonic()
        s.sendall(b"POST /api/v0/code-exec HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"38400000\r\npayload=")
        r = parse(read_all(s)).well_formed()
        assert r.status == 413, r
        assert time.monotonic() - t0 < 2
    finally:
        s.close()


@pytest.mark.parametrize("opener", ["[", '{"a": '])
def test_100k_deep_json_refused(opener):
    payload = opener * 100000
    body = urllib.parse.urlencode({"payload": payload}).encode()
    r = parse(raw(b"POST /api/v0/code-exec HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body) + body)).well_formed()
    assert r.status == 400, r
    assert r.json()["error"].startswith("Unable to parse payload JSON: maximum recursion depth exceeded"), r


def test_100k_deep_globals_refused():
    payload = '{"code": "x=1", "globals_dict": {"a": ' + "[" * 100000 + "]" * 100000 + "}}"
    body = urllib.parse.urlencode({"payload": payload}).encode()
    r = parse(raw(b"POST /api/v0/code-exec HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body) + body)).well_formed()
    assert r.status == 400, r


def test_oversized_head_431():
    r = parse(raw(b"GET /health/ HTTP/1.1\r\n" + b"X-Big: " + b"a" * 20000 + b"\r\n\r\n")).well_formed()
    assert r.status == 431, r


def test_many_small_headers_431():
    r = parse(raw(b"GET /health/ HTTP/1.1\r\n" + b"X: y\r\n" * 5000 + b"\r\n")).well_formed()
    assert r.status == 431, r


GARBAGE = [
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)),  # TLS ClientHello-ish
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    b"GET / HTTP/9.9\r\n\r\n",
    b"GET\r\n\r\n",
    b"\r\n\r\n\r\n",
    b" GET / HTTP/1.1\r\n\r\n",
    b"GET /\x00 HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"POST /api/v0/code-exec HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"\xff" * 5000,
]


@pytest.mark.parametrize("i", range(len(GARBAGE)))
def test_garbage_rejected(i):
    r = parse(raw(GARBAGE[i])).well_formed()
    assert r.status == 400, r


def test_random_garbage():
    rnd = random.Random(6)
    for _ in range(30):
        data = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 3000)))
        out = raw(data)
        r = parse(out).well_formed()
        assert r.status in (400, 431), r


TRUNCATED = [
    b"POST /api/v0/code-exec HTTP/1.1\r\nContent-Length: 100\r\n\r\npayload=",
    b"POST /api/v0/code-exec HTTP/1.1\r\nHost: x\r\n",
    b"POST /api/v0/code-exec HT",
    b"POST /api/v0/code-exec HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
]


@pytest.mark.parametrize("i", range(len(TRUNCATED)))
def test_truncated_request_400(i):
    r = parse(raw(TRUNCATED[i])).well_formed()
    assert r.status == 400, r


def test_connect_and_close_answers_nothing():
    for _ in range(20):
        s = connect()
        s.close()
    s = connect()
    s.shutdown(socket.SHUT_WR)
    assert read_all(s) == b""
    s.close()


def test_reset_mid_request():
    for _ in range(10):
        s = connect()
        s.sendall(b"POST /api/v0/code-exec HTTP/1.1\r\nContent-Length: 100000\r\n\r\n" + b"a" * 5000)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()  # RST


def test_flood_after_request_answer_whole():
    """6 MiB sent after a request, past the 4 MiB the instance reads and
    discards after its answer: the client may get a reset instead of the
    EOF, but only after the whole answer (read slowly, so that most of it is
    still in the instance's socket when the budget is spent)."""
    form = "payload=" + urllib.parse.quote(json.dumps({"code": "g = 'x' * 1000000", "globals_dict": {}}))
    req = (b"POST /api/v0/code-exec HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
           b"Content-Length: %d\r\n\r\n%s" % (len(form), form.encode())) + b"J" * (6 << 20)

    def send(s):
        try:
            s.sendall(req)
        except OSError:
            pass  # the reset, once the answer is out

    for i in range(3):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.settimeout(30)
        s.connect(("127.0.0.1", PORT))
        sender = threading.Thread(target=send, args=(s,))
        sender.start()
        out = b""
        try:
            while True:
                b = s.recv(1 << 16)
                if not b:
                    break
                out += b
                time.sleep(0.002)
        except ConnectionResetError:
            pass
        finally:
            sender.join()
            s.close()
        r = parse(out).well_formed()
        assert r.status == 200, (i, r)
        assert json.loads(r.body) == {"globals_dict": {"g": "x" * 1000000}}, (i, len(r.body))


def test_client_never_reads_a_big_response():
    # the service must not hang on a peer that does not read its answer
    code = "x = 'a' * (1 << 22)"
    body = urllib.parse.urlencode({"payload": json.dumps({"code": code, "globals_dict": {}})}).encode()
    t0 = time.monotonic()
    for _ in range(3):
        s = connect()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(b"POST /api/v0/code-exec HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body) + body)
        time.sleep(0.5)
        s.close()
    assert time.monotonic() - t0 < 10


def instances():
    """codejaild instances: children of systemd-socket-activate."""
    import glob
    import os
    sa = os.environ["CJ_SA_PID"]
    n = 0
    for st in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(st) as f:
                if f.read().rsplit(")", 1)[1].split()[1] == sa:
                    n += 1
        except (FileNotFoundError, ProcessLookupError, IndexError):
            pass
    return n


def test_client_never_reads_and_stays_connected():
    # an 8 MB answer to a peer that never reads: the instance must give up
    # at its write deadline instead of staying forever
    payload = json.dumps({"code": "x = 1", "globals_dict": {"big": "a" * (8 << 20)}})
    body = urllib.parse.urlencode({"payload": payload}).encode()
    s = connect(timeout=30)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        s.sendall(b"POST /api/v0/code-exec HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body) + body)
        t0 = time.monotonic()
        time.sleep(0.5)
        while instances() and time.monotonic() - t0 < 30:
            time.sleep(0.2)
        left = instances()
        took = time.monotonic() - t0
    finally:
        s.close()
    assert left == 0, "an instance still writes to a peer that does not read"
    assert took < 5 + TIMEOUT_S + 5, took  # REALTIME + write deadline + slack
