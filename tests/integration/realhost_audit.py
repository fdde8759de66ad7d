#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""AppArmor's audit lines from one real-host guest (realhost.sh).

    realhost_audit.py OUT_DIR MODE [SINCE]

OUT_DIR holds the guest's kernel.log (`journalctl -k`), dmesg.log and
audit-journal.json (`journalctl _TRANSPORT=audit -o json`, when journald
collects audit records). Lines are merged by their audit serial, so one
record seen in two places counts once.

Writes OUT_DIR/apparmor-audit.log (every apparmor= line, as logged) and
OUT_DIR/apparmor-accesses.txt: one line per distinct (profile, operation,
name, masks / flags / fstype, info), with PIDs, jail directory names and
instance names folded so that the same access made by two requests is one
line; the count and the commands that made it follow. Prints one JSON
object: per profile, the number of DENIED (enforce) or ALLOWED (complain)
records, and how many records the kernel said it lost after SINCE
(seconds of uptime, when the guest turned printk's rate limit off).
"""
import collections
import json
import os
import re
import sys

FIELD_RE = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')
SERIAL_RE = re.compile(r"audit\(\d+\.\d+:(\d+)\)")
HEX_RE = re.compile(r"^(?:[0-9A-F]{2})+$")
HEX_KEYS = {"name", "srcname", "comm", "profile", "peer", "target", "exe", "addr", "peer_addr"}


def fields(text):
    out = {}
    for k, v in FIELD_RE.findall(text):
        if v.startswith('"'):
            v = v[1:-1]
        elif k in HEX_KEYS and HEX_RE.match(v) and len(v) > 2:
            try:  # untrusted strings with odd bytes are logged hex-encoded
                v = bytes.fromhex(v).decode("utf-8", "backslashreplace")
            except ValueError:
                pass
        out[k] = v
    return out


FOLD = [
    (re.compile(r"/proc/\d+/"), "/proc/@{pid}/"),
    (re.compile(r"/proc/\d+$"), "/proc/@{pid}"),
    # jail and probe directories: mkdtemp/mkstemp suffixes
    (re.compile(r"(codejail-)[A-Za-z0-9_]{8}(?=[/-]|$)"), r"\1XXXXXXXX"),
    (re.compile(r"(codejail-[a-z-]*probe-?)[A-Za-z0-9_]{6}(?=/|$)"), r"\1XXXXXX"),
    (re.compile(r"(-probe-)[A-Za-z0-9_]{6}(?=/|$)"), r"\1XXXXXX"),
    (re.compile(r"(/\.[\w.-]+\.)[A-Za-z0-9_]{6}$"), r"\1XXXXXX"),   # write_atomic's temp file
    # one instance per connection: codejail@<n>-<local>-<remote>.service
    (re.compile(r"codejail@[^/]+\.service"), "codejail@*.service"),
    (re.compile(r"codejail-(disabled|unhealthy)@[^/]+\.service"), r"codejail-\1@*.service"),
]


# The test's "unhealthy" listener (realhost-guest.sh) runs the service with a
# state dir of its own, which no operator's configuration has and the
# profile does not cover: its accesses there are the harness's, listed but
# not counted against the profile.
TEST_LISTENER_RE = re.compile(r"^/run/codejail-unhealthy(/|$)")


def fold(name):
    for rx, rep in FOLD:
        name = rx.sub(rep, name)
    return name


def records(out_dir):
    """(serial or None, text) of every apparmor= audit record, kernel log first."""
    seen = set()
    for fname in ("kernel.log", "dmesg.log"):
        path = os.path.join(out_dir, fname)
        if not os.path.exists(path):
            continue
        for line in open(path, errors="replace"):
            if 'apparmor="' not in line:
                continue
            m = SERIAL_RE.search(line)
            key = m.group(1) if m else line
            if key in seen:
                continue
            seen.add(key)
            yield line.rstrip("\n")
    path = os.path.join(out_dir, "audit-journal.json")
    if os.path.exists(path):
        for line in open(path, errors="replace"):
            try:
                e = json.loads(line)
            except ValueError:
                continue
            msg = e.get("MESSAGE", "")
            if isinstance(msg, list):  # journald's JSON for non-UTF-8 text
                msg = bytes(msg).decode("utf-8", "replace")
            if 'apparmor="' not in msg:
                continue
            serial = (e.get("_AUDIT_ID") or "").strip()
            if serial and serial in seen:
                continue
            seen.add(serial or msg)
            yield f"[journald audit {serial}] {msg}"


def lost(out_dir, since):
    """Records the kernel says it dropped after `since` (seconds of uptime:
    when the guest switched printk's rate limit off)."""
    n = 0
    path = os.path.join(out_dir, "kernel.log")
    if os.path.exists(path):
        for line in open(path, errors="replace"):
            t = re.match(r"\[\s*(\d+\.\d+)\]", line)
            if t and float(t.group(1)) < since:
                continue
            m = re.search(r"audit: audit_lost=(\d+)", line)
            if m:
                n = max(n, int(m.group(1)))
            m = re.search(r"kauditd_printk_skb: (\d+) callbacks suppressed", line)
            if m:
                n += int(m.group(1))
    return n


def main():
    out_dir, mode = sys.argv[1], sys.argv[2]
    since = float(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[3] else 0.0
    verdict = "DENIED" if mode == "enforce" else "ALLOWED"
    lines = list(records(out_dir))
    with open(os.path.join(out_dir, "apparmor-audit.log"), "w") as f:
        f.write("".join(l + "\n" for l in lines))
    counts = collections.Counter()
    test_listener = collections.Counter()
    verdicts = collections.Counter()
    distinct = collections.OrderedDict()
    for line in lines:
        f = fields(line[line.index('apparmor="'):])
        v = f.get("apparmor", "")
        verdicts[v] += 1
        if v not in ("DENIED", "ALLOWED"):
            continue  # STATUS (profile loads), AUDIT
        prof = f.get("profile", "?")
        harness = bool(TEST_LISTENER_RE.match(f.get("name", "")))
        if harness:
            test_listener[prof] += 1
        elif v == verdict:
            counts[prof] += 1
        parts = [f"{v:7}", prof, f.get("operation", "?")]
        if "name" in f:
            parts.append(fold(f["name"]))
        for k in ("class", "requested_mask", "denied_mask", "requested", "denied", "fstype", "srcname", "flags",
                  "capname", "signal", "peer", "target", "family", "sock_type", "protocol", "mask"):
            if k in f:
                parts.append(f"{k}={fold(f[k])!r}" if " " in f[k] else f"{k}={fold(f[k])}")
        if "info" in f:
            parts.append(f"info={f['info']!r}")
        if harness:
            parts.append("(the test's unhealthy listener: not counted)")
        key = "  ".join(parts)
        d = distinct.setdefault(key, [0, collections.Counter()])
        d[0] += 1
        d[1][f.get("comm", "?")] += 1
    with open(os.path.join(out_dir, "apparmor-accesses.txt"), "w") as out:
        for key in sorted(distinct, key=lambda k: (k.split("  ")[1], k.split("  ")[2], k)):
            n, comms = distinct[key]
            out.write(f"{key}  x{n}  comm={','.join(sorted(comms))}\n")
    json.dump({"verdict": verdict, "per_profile": dict(counts), "test_listener": dict(test_listener),
               "verdicts": dict(verdicts),
               "distinct": len(distinct), "records": len(lines), "lost": lost(out_dir, since)}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
