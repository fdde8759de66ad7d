# SPDX-License-Identifier: Apache-2.0
"""What one request makes an instance hold, measured from outside it.

Runs under tests/abuse/with-service.sh (tests/bench/mem-shapes.sh): a
second systemd-socket-activate with one execution slot, held by a sleeping
execution, so every request measured waits in the queue. For each shape of
globals_dict and each size, the request is sent whole, the instance is left
to settle (its CPU time and memory stop moving), and the resident memory of
every process of the instance is read from /proc/PID/status (VmRSS, VmHWM):
the instance itself (the privileged side), its parsing child and the jail's
init prepared meanwhile. The figure reported is the sum over those processes
above the same sum for a minimal request, against the body's size.

Output shapes: the program leaves a global of that shape and size; the
client does not read, so once the answer's first bytes arrive the parsing
child has interpreted the output and waits to write the rest, and its
VmHWM (from outside) is the cost of interpreting the output (the log's
CODEJAIL_SERVICE_MAXRSS_KB is the same counter, read by the child at its
end: the larger of the two is reported).

  mem-shapes.sh [--sizes 65536,1048576,...] [--shapes a,b] [--json FILE]
                [--enc multipart,urlencoded] [--output-sizes ...] [--check]

--check exits 1 when any queued request exceeds 4 x body + 2 MiB above the
minimal one, or any output interpretation 4 x output + 2 MiB (the abuse
tier's bound)."""
import argparse
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import time
import urllib.parse

HOST = "127.0.0.1"
MIB = 1 << 20
# The payload field's cap (Django's DATA_UPLOAD_MAX_MEMORY_SIZE): the
# largest payload below it, counted as Django counts a field (multipart)
# or the whole raw body (urlencoded: fit()).
FORM_CAP = 2621440


def unit(pattern, n):
    """A JSON array of n repetitions of pattern."""
    return "[" + ",".join([pattern] * n) + "]" if n else "[]"


def shape_text(shape, size):
    """globals_dict text of about size bytes."""
    if shape == "empty-objects":  # {},{},... 3 bytes per value
        return '{"g": %s}' % unit("{}", size // 3)
    if shape == "empty-arrays":
        return '{"g": %s}' % unit("[]", size // 3)
    if shape == "one-char-strings":  # "a",
        return '{"g": %s}' % unit('"a"', size // 4)
    if shape == "small-numbers":  # 0,
        return '{"g": %s}' % unit("0", size // 2)
    if shape == "deep-nesting":  # chains 500 deep, side by side
        chain = "[" * 500 + "0" + "]" * 500
        return '{"g": %s}' % unit(chain, max(1, size // 1002))
    if shape == "many-keys":  # {"k0":0,"k1":0,...} one object
        n = size // 10
        return "{" + ",".join('"%x":0' % i for i in range(n)) + "}"
    if shape == "duplicate-keys":  # objects repeating one key
        return '{"g": %s}' % unit('{"a":0,"a":1}', size // 14)
    if shape == "invalid-utf8":  # one string of bytes that are not UTF-8
        return '{"g": "%s"}' % ("\udcff" * size)  # surrogateescape: raw 0xff
    if shape == "floats":  # 1e15 -> 1000000000000000.0
        return '{"g": %s}' % unit("1e15", size // 5)
    raise ValueError(shape)


SHAPES = ["empty-objects", "empty-arrays", "one-char-strings", "small-numbers", "deep-nesting",
          "many-keys", "duplicate-keys", "invalid-utf8", "floats"]

# What the program leaves behind, for the output measurements: its stdout
# is json.dumps({"g": ...}) (the wrapper's), about the size asked.
OUTPUT_CODE = {
    "empty-objects": "g = [{} for _ in range(%d // 4)]",
    "one-char-strings": "g = ['a'] * (%d // 5)",
    "small-numbers": "g = [0] * (%d // 3)",
    # within the wrapper's fast path (depth 100); its check walks every
    # node in Python, so past ~1 MB the program runs out of CPU (3 s)
    "deep-nesting": "c = 0\nfor _ in range(90): c = [c]\ng = [c] * (%d // 183)",
    "many-keys": "g = {'%%x' %% i: 0 for i in range(%d // 12)}",
}


# Larger outputs of these shapes outrun the program's CPU limit.
OUTPUT_MAX = {"deep-nesting": 1000000}

# Outputs the program writes itself, the wrapper's never: the text is the
# output, whatever the wrapper would make of a global.
# "short-keys": one object of 8 bytes a key ('"abc":0,', the shortest that
# still gives hundreds of thousands of distinct keys: 80 ** 3 = 512,000),
# its first key repeated at its end so that its keys are kept too.
KEY_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$&()*+-./;<=>?@["
OUTPUT_CODE["short-keys"] = (
    "import os\n"
    "A = '" + KEY_CHARS + "'\n"
    "k = lambda i: A[i %% 80] + A[i // 80 %% 80] + A[i // 6400 %% 80]\n"
    "b = ('{' + ','.join('\"' + k(i %% 512000) + '\":0' for i in range(%d // 8)) + ',\"aaa\":1}').encode()\n"
    "while b:\n    b = b[os.write(1, b):]\n"
    "os._exit(0)")
WRITTEN = {"short-keys"}


def short_keys_text(size):
    def k(i):
        return KEY_CHARS[i % 80] + KEY_CHARS[i // 80 % 80] + KEY_CHARS[i // 6400 % 80]
    return "{" + ",".join('"%s":0' % k(i % 512000) for i in range(size // 8)) + ',"aaa":1}'


def payload_text(globals_text, code="x = 1", slug="mem"):
    return '{"code": %s, "globals_dict": %s, "slug": "%s"}' % (json.dumps(code), globals_text, slug)


def body(enc, payload, context=None):
    data = payload.encode("utf-8", "surrogateescape")
    if enc == "urlencoded":
        b = urllib.parse.urlencode({"payload": data}).encode()
        ctype = b"application/x-www-form-urlencoded"
    else:
        bnd = b"cjmemshapeboundary"
        b = (b"--" + bnd + b"\r\nContent-Disposition: form-data; name=\"payload\"\r\n\r\n" + data +
             b"\r\n--" + bnd + b"--\r\n")
        ctype = b"multipart/form-data; boundary=" + bnd
    return (b"POST /api/v0/code-exec HTTP/1.1\r\nHost: x\r\nContent-Type: " + ctype +
            b"\r\nContent-Length: %d\r\n\r\n" % len(b)) + b, len(b)


def fit(enc, shape, size):
    """size, or less for an urlencoded body: the form-data cap counts that
    one raw (escapes as sent), so its largest accepted globals are smaller."""
    if enc != "urlencoded":
        return size
    while True:
        blen = body(enc, payload_text(shape_text(shape, size)))[1]
        if blen <= FORM_CAP - 256:
            return size
        size = size * (FORM_CAP - 256) // blen - 64


def children(pid):
    try:
        return [int(p) for p in open("/proc/%d/task/%d/children" % (pid, pid)).read().split()]
    except OSError:
        return []


def tree(pid):
    out = [pid]
    for k in children(pid):
        out += tree(k)
    return out


def status(pid):
    try:
        txt = open("/proc/%d/status" % pid).read()
    except OSError:
        return None
    f = {}
    for k in ("VmRSS", "VmHWM", "RssAnon"):
        m = re.search(r"^%s:\s+(\d+) kB" % k, txt, re.M)
        f[k] = int(m.group(1)) if m else 0
    return f


def cpu_ticks(pid):
    try:
        f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
        return int(f[11]) + int(f[12])
    except (OSError, IndexError):
        return None


def reset(s):
    """Close with a RST: a client that is gone for sure, even within the
    queue's first second (admit.h: an early FIN reads as a half-close)."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def answer_begun(s):
    try:
        return s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
    except BlockingIOError:
        return False


def wchan(pid):
    try:
        return open("/proc/%d/wchan" % pid).read()
    except OSError:
        return ""


class Service:
    def __init__(self, port, extra):
        cfg = json.load(open(os.environ["CJ_CONFIG"]))
        shared = cfg["state_dir"]
        cfg.update(extra)
        # the holder sleeps while every case waits behind it
        cfg["limit_overrides"]["mem-hold"] = {"CPU": 60, "REALTIME": 1800}
        d = os.path.dirname(os.environ["CJ_CONFIG"])
        # A state dir of its own: its slots (admission.lock) are not those of
        # the suite's service nor of another Service, only its health file is.
        cfg["state_dir"] = os.path.join(d, "memshapes-%d-state" % port)
        os.makedirs(cfg["state_dir"], exist_ok=True)
        shutil.copy(os.path.join(shared, "health.json"), cfg["state_dir"])
        self.config = os.path.join(d, "memshapes-%d.json" % port)
        self.log = os.path.join(d, "memshapes-%d.log" % port)
        json.dump(cfg, open(self.config, "w"))
        self.port = port
        self.proc = subprocess.Popen(["systemd-socket-activate", "-l", "%s:%d" % (HOST, port), "-a",
                                      os.environ["CODEJAILD"], "--config", self.config],
                                     stderr=open(self.log, "ab"))
        for _ in range(100):
            try:
                socket.create_connection((HOST, port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        time.sleep(0.3)

    def instances(self):
        return children(self.proc.pid)

    def stop(self):
        self.proc.kill()
        self.proc.wait()

    def log_field(self, slug, name, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for ln in open(self.log, errors="replace"):
                if " CODEJAIL_SLUG=%s " % slug in ln:
                    m = re.search(r" %s=(\S*)" % name, ln)
                    return m.group(1) if m else None
            time.sleep(0.05)
        return None


def settle(pids_of, timeout=60):
    """Wait until the instance's CPU time and memory stop moving for 300 ms;
    returns per-process status ({} once it is gone: it answered and left)."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        pids = pids_of()
        if not pids:
            return {}
        snap = tuple((p, cpu_ticks(p), (status(p) or {}).get("VmRSS")) for p in pids)
        if snap != last:
            last, since = snap, time.monotonic()
        elif time.monotonic() - since >= 0.3 and pids:
            return {p: status(p) for p in pids if status(p)}
        time.sleep(0.05)
    raise RuntimeError("the instance never settled")


def queued_cost(svc, enc, payload):
    """Sum of the instance's processes' VmRSS and VmHWM (KiB) once the
    request waits for the slot; None when it was answered instead (e.g.
    refused)."""
    before = set(svc.instances())
    data, blen = body(enc, payload)
    s = socket.create_connection((HOST, svc.port), timeout=120)
    try:
        s.sendall(data)
        deadline = time.monotonic() + 10
        inst = None
        while inst is None and time.monotonic() < deadline:
            new = [p for p in svc.instances() if p not in before]
            inst = new[0] if new else None
            time.sleep(0.01)
        if inst is None:
            return None, blen
        st = settle(lambda: tree(inst) if os.path.exists("/proc/%d" % inst) else [])
        s.setblocking(False)
        try:
            answered = s.recv(1) != b""
        except BlockingIOError:
            answered = False
        if answered or not st:
            return None, blen
        return {"rss": sum(v["VmRSS"] for v in st.values()), "hwm": sum(v["VmHWM"] for v in st.values()),
                "procs": len(st)}, blen
    finally:
        reset(s)
        t = time.monotonic()
        while set(svc.instances()) - before and time.monotonic() - t < 20:
            time.sleep(0.02)


def output_cost(svc, shape, size, slug):
    """The parsing child's VmHWM (KiB) after interpreting an output of about
    size bytes, the client not reading; and the output's size."""
    code = OUTPUT_CODE[shape] % size
    data, _ = body("urlencoded", payload_text("{}", code, slug))
    before = set(svc.instances())
    s = socket.create_connection((HOST, svc.port), timeout=120)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        s.sendall(data)
        deadline = time.monotonic() + 60
        inst = None
        while time.monotonic() < deadline:
            new = [p for p in svc.instances() if p not in before]
            if new:
                inst = new[0]
                break
            time.sleep(0.01)
        hwm_out = 0
        # The answer has begun (its first bytes are here, the rest waits
        # for a reader): the parsing child has interpreted the output and
        # waits to write; read its peak once it has settled.
        while inst and time.monotonic() < deadline and not answer_begun(s):
            time.sleep(0.02)
        # The largest VmHWM among its children until it stops moving for
        # 300 ms (a small answer is out at once: the instance may be gone,
        # and the log's figure is the one there is).
        last, since = None, time.monotonic()
        while inst and time.monotonic() - since < 0.3 and time.monotonic() < deadline:
            kids = children(inst)
            if not kids:
                break
            hwm_out = max([hwm_out] + [(status(k) or {}).get("VmHWM", 0) for k in kids])
            if hwm_out != last:
                last, since = hwm_out, time.monotonic()
            time.sleep(0.05)
        s.settimeout(120)
        got = s.recv(64)
    finally:
        reset(s)
    hwm_log = int(svc.log_field(slug, "CODEJAIL_SERVICE_MAXRSS_KB") or 0)
    if svc.log_field(slug, "CODEJAIL_STATUS") != "executed.success":
        raise RuntimeError("%s: %s, exit status %s" % (slug, svc.log_field(slug, "CODEJAIL_STATUS"),
                                                       svc.log_field(slug, "CODEJAIL_EXIT_STATUS")))
    return max(hwm_out, hwm_log), output_len(shape, size), got


def output_len(shape, size):
    if shape in WRITTEN:
        return len(short_keys_text(size))
    return len(json.dumps({"g": eval_output(shape, size)}))


def eval_output(shape, size):
    g = {}
    exec(OUTPUT_CODE[shape] % size, g)
    return g["g"]


def hold_slot(svc):
    """Take the service's one slot with a sleeping execution; returns what
    release_slot() needs."""
    before = set(svc.instances())
    hold = socket.create_connection((HOST, svc.port), timeout=300)
    hold.sendall(body("urlencoded", payload_text("{}", "import time\ntime.sleep(600)", "hold")
                      .replace('"slug"', '"limit_overrides_context": "mem-hold", "slug"'))[0])
    deadline = time.monotonic() + 10
    holder = []
    while not holder:
        holder = [i for i in svc.instances() if i not in before and len(tree(i)) >= 4]
        assert time.monotonic() < deadline, "the holder never started"
        time.sleep(0.05)
    return hold, holder[0]


def release_slot(held):
    """kill -9 of a running instance frees its slot (admit.c)."""
    hold, pid = held
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        pass  # gone already (REALTIME ended it)
    hold.close()
    time.sleep(0.5)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="65536,1048576,%d" % (FORM_CAP - 256))
    ap.add_argument("--shapes", default=",".join(SHAPES))
    ap.add_argument("--enc", default="multipart,urlencoded")
    ap.add_argument("--output-sizes", default="1048576,4000000", help="deep-nesting: at most 1 MB")
    ap.add_argument("--output-shapes", default=",".join(OUTPUT_CODE))
    ap.add_argument("--json")
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    sizes = [int(x) for x in a.sizes.split(",") if x]
    port = int(os.environ.get("CJ_PORT", "8080")) + 11
    svc = Service(port, {"max_concurrent_executions": 1, "queue_timeout_s": 300, "request_timeout_s": 60})
    results, bad = [], []
    try:
        held = hold_slot(svc)
        for enc in [x for x in a.enc.split(",") if x]:
            base, _ = queued_cost(svc, enc, payload_text("{}"))
            assert base, "the minimal request did not queue"
            results.append({"kind": "queued", "enc": enc, "shape": "minimal", "body": 0, **base})
            for shape in [x for x in a.shapes.split(",") if x]:
                for size in sizes:
                    size = fit(enc, shape, size)
                    p = payload_text(shape_text(shape, size))
                    cost, blen = queued_cost(svc, enc, p)
                    row = {"kind": "queued", "enc": enc, "shape": shape, "size": size, "body": blen,
                           "payload": len(p.encode("utf-8", "surrogateescape"))}
                    if cost:
                        delta = (cost["rss"] - base["rss"]) * 1024
                        row.update(cost, delta=delta, ratio=delta / blen,
                                   ok=delta <= 4 * blen + 2 * MIB)
                        if not row["ok"]:
                            bad.append(row)
                    else:
                        row["answered"] = True
                    results.append(row)
                    print(json.dumps(row), flush=True)
        release_slot(held)
        base_hwm, _, _ = output_cost(svc, "small-numbers", 3, "out-base")
        results.append({"kind": "output", "shape": "minimal", "hwm": base_hwm})
        for shape in [x for x in a.output_shapes.split(",") if x]:
            for size in [int(x) for x in a.output_sizes.split(",") if x]:
                if shape == "deep-nesting":
                    size = min(size, OUTPUT_MAX["deep-nesting"])
                slug = "out-%s-%d" % (shape, size)
                hwm, out_bytes, got = output_cost(svc, shape, size, slug)
                delta = (hwm - base_hwm) * 1024
                ok200 = got.startswith(b"HTTP/1.1 200 ")
                row = {"kind": "output", "shape": shape, "size": size, "output": out_bytes, "hwm": hwm,
                       "delta": delta, "ratio": delta / out_bytes, "status200": ok200,
                       "ok": delta <= 4 * out_bytes + 2 * MIB}
                if not row["ok"]:
                    bad.append(row)
                results.append(row)
                print(json.dumps(row), flush=True)
    finally:
        svc.stop()
    print()
    print("| kind | encoding | shape | body / output bytes | instance RSS KiB | above minimal KiB | x body | <= 4x + 2 MiB |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        if r["kind"] == "queued" and r["shape"] == "minimal":
            print("| queued | %s | minimal request | - | %d | 0 | - | - |" % (r["enc"], r["rss"]))
        elif r["kind"] == "queued" and r.get("answered"):
            print("| queued | %s | %s | %d | answered at once (not queued) | - | - | - |" % (r["enc"], r["shape"], r["body"]))
        elif r["kind"] == "queued":
            print("| queued | %s | %s | %d | %d | %d | %.1f | %s |" % (
                r["enc"], r["shape"], r["body"], r["rss"], r["delta"] // 1024, r["ratio"], "yes" if r["ok"] else "**no**"))
        elif r["shape"] == "minimal":
            print("| output | - | minimal (child VmHWM) | - | %d | 0 | - | - |" % r["hwm"])
        else:
            print("| output | - | %s | %d | %d | %d | %.1f | %s |" % (
                r["shape"], r["output"], r["hwm"], r["delta"] // 1024, r["ratio"], "yes" if r["ok"] else "**no**"))
    if a.json:
        json.dump(results, open(a.json, "w"), indent=1)
    if a.check and bad:
        print("over the bound: %d" % len(bad), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
