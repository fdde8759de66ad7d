# SPDX-License-Identifier: Apache-2.0
"""Helpers for the abuse suite: raw HTTP over loopback, a normal request,
and the leftover checks run after every test (see with-service.sh for the
namespaces that make them exact)."""
import glob
import json
import os
import re
import socket
import time
import urllib.parse

import pytest

PORT = int(os.environ.get("CJ_PORT", "8080"))
HOST = "127.0.0.1"  # loopback only, always
SANDBOX_UID_MIN = 1 << 30
TIMEOUT_S = 2  # request_timeout_s of the service config (with-service.sh)


def connect(timeout=30):
    return socket.create_connection((HOST, PORT), timeout=timeout)


def read_all(s, limit=64 << 20):
    out = b""
    while len(out) < limit:
        try:
            b = s.recv(1 << 16)
        except ConnectionResetError:
            break
        if not b:
            break
        out += b
    return out


def raw(data, timeout=30, shut=True):
    s = connect(timeout)
    try:
        try:
            s.sendall(data)
            if shut:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return read_all(s)
    finally:
        s.close()


class Response:
    def __init__(self, data):
        self.raw = data
        # Interim responses (1xx) first, skipped as http.client does: the
        # 100 Continue of Expect, and the one that asks a client whose FIN
        # came whether it is still there (codejail-service(7)).
        while re.match(rb"HTTP/1\.1 1\d\d ", data):
            data = data.split(b"\r\n\r\n", 1)[1]
        self.final = data  # the final response's bytes
        head, _, self.body = data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        self.status = int(lines[0].split(b" ")[1]) if lines[0].startswith(b"HTTP/1.1 ") else None
        self.headers = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(b":")
            self.headers[k.strip().lower().decode()] = v.strip().decode()

    def json(self):
        return json.loads(self.body)

    def well_formed(self):
        """Exactly one response: status line, our three headers, body of Content-Length."""
        assert self.status is not None, self.raw[:200]
        assert self.headers.get("content-type") == "application/json"
        assert self.headers.get("connection") == "close"
        assert int(self.headers["content-length"]) == len(self.body), "trailing bytes or short body"
        if self.body:
            self.json()
        return self

    def __repr__(self):
        return "<Response %s %r>" % (self.status, self.raw[:300])


def parse(data):
    return Response(data)


def post_form(fields, extra_headers=b"", timeout=60):
    body = urllib.parse.urlencode(fields).encode()
    return parse(raw(b"POST /api/v0/code-exec HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: %d\r\n" % len(body) + extra_headers + b"\r\n" + body, timeout=timeout))


def execute(code, globals_dict=None, context="abuse-fast", timeout=60):
    payload = {"code": code, "globals_dict": globals_dict or {}, "limit_overrides_context": context}
    return post_form({"payload": json.dumps(payload)}, timeout=timeout).well_formed()


def normal_request_ok():
    r = execute("x = x + 1", {"x": 16}, context=None)
    assert r.status == 200, r
    assert r.json() == {"globals_dict": {"x": 17}}, r


def sandbox_processes():
    found = []
    for st in glob.glob("/proc/[0-9]*/status"):
        try:
            with open(st) as f:
                for ln in f:
                    if ln.startswith("Uid:"):
                        uids = [int(x) for x in ln.split()[1:]]
                        if any(u >= SANDBOX_UID_MIN for u in uids):
                            found.append((st.split("/")[2], uids))
                        break
        except (FileNotFoundError, ProcessLookupError):
            pass
    return found


def jail_dirs():
    """Jail directories in this /tmp and in each live codejaild instance's
    own /tmp (a serving instance mounts a private tmpfs there, so its jail
    dir is only visible through /proc/PID/root while it runs)."""
    found = set(glob.glob("/tmp/codejail-*"))
    for comm in glob.glob("/proc/[0-9]*/comm"):
        try:
            with open(comm) as f:
                if f.read().strip() != "codejaild":
                    continue
            root = comm[: -len("comm")] + "root"
            found.update(d.replace(root, f"{root}:", 1) for d in glob.glob(root + "/tmp/codejail-*"))
        except OSError:
            pass
    return sorted(found)


def assert_no_leftovers(grace_s=3.0):
    deadline = time.monotonic() + grace_s
    while True:
        procs, dirs = sandbox_processes(), jail_dirs()
        if not procs and not dirs:
            return
        if time.monotonic() > deadline:
            raise AssertionError("leftovers: processes %r, jail dirs %r" % (procs, dirs))
        time.sleep(0.1)


@pytest.fixture(autouse=True)
def service_survives():
    """After every abuse: the next normal request is answered correctly and
    nothing of any execution remains."""
    yield
    normal_request_ok()
    assert_no_leftovers()
