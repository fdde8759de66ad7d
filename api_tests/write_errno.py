# SPDX-License-Identifier: Apache-2.0
"""Every write-like operation outside tmp/: the errno upstream gives and ours.

One table (ROWS) for three users:
  * api_tests/test_write_errno.py asserts our column through the service;
  * tests/upstream/errno_upstream.py measures the upstream column in a
    layout of upstream's own (see there) and asserts it;
  * README "Writes outside tmp/: upstream's errno and ours" is this table
    grouped (`python3 api_tests/write_errno.py --markdown` prints it;
    tests/e2e/docs-suite.sh compares).

Upstream is the codejail library under codejail-service as deployed: the
jail dir owned by the service user (0775, files 0644), the code run as the
shared `sandbox` user, and AppArmor's inner profile (file write access only
beneath /tmp/codejail-*/, read elsewhere). errno 13 is PermissionError
"Permission denied", 1 PermissionError "Operation not permitted", 30
OSError "Read-only file system".

PROBE runs inside the sandbox (ours or upstream's). Probes that would
change something if they succeeded are harmless: new names are removed at
once, chmod/chown/utime/truncate set what is already there, and the
operations that would destroy an existing entry (unlink, rename, rmdir,
utime to now), and everything outside the jail dir and /tmp, are attempted
only where they cannot succeed -- by an unprivileged process, or on a
read-only mount -- and answer "not-attempted" otherwise (a sabotaged jail
runs as root on the host).
"""

import json
import sys

# Where (the working directory is the jail dir; PYLIB is filled in by the
# probe with /usr/lib/python3.X of the interpreter that runs it).
WD, ROOT, ETC, PYLIB, TMP = ".", "/", "/etc", "PYLIB", "/tmp"

# ours: an int, or {"before": (major, minor), "then": a, "else": b}: a on
# kernels older than that, b from it on.
TRUNCATE_RO = {"before": (6, 14), "then": 30, "else": 13}
# The read-only mount answers first before 6.14, DAC (and Landlock, AppArmor
# after it) from 6.14 on, when vfs_truncate() checks permission first.
TRUNCATE_RO_LAYERS = ("root", "uid", "landlock", "apparmor")

# (id, op, args, upstream errno, ours, ours with the sandbox AppArmor
#  profile in force (None: the same), layers, why ours differs)
_RO_WHY = "read-only mount kept as a layer (the kernel answers EROFS before any permission check)"
_TRUNC_WHY = "read-only mount kept as a layer (before 6.14 the kernel checks it before permission)"
ROWS = [
    # -- the working directory (the jail dir, jailed_code, tmp) ---------------------------
    ("wd-create", "create", [WD + "/cj-new-f"], 13, 13, None, ("uid", "landlock", "apparmor"), ""),
    ("wd-mkdir", "mkdir", [WD + "/cj-new-d"], 13, 13, None, ("uid", "landlock", "apparmor"), ""),
    ("wd-mkfifo", "mkfifo", [WD + "/cj-new-p"], 13, 13, None, ("uid", "landlock", "apparmor"), ""),
    ("wd-symlink", "symlink", [WD + "/cj-new-l"], 13, 13, None, ("uid", "landlock", "apparmor"), ""),
    ("wd-link", "link", ["jailed_code", WD + "/cj-new-h"], 1, 1, None, ("uid", "landlock", "apparmor"), ""),
    ("wd-append", "append", ["jailed_code"], 13, 13, None, ("uid", "landlock", "apparmor"), ""),
    ("wd-truncate", "truncate", ["jailed_code"], 13, 13, None, ("uid", "landlock", "apparmor"), ""),
    ("wd-unlink", "unlink", ["jailed_code"], 13, 13, None, ("uid", "landlock", "apparmor"), ""),
    ("wd-rename", "rename", ["jailed_code", WD + "/cj-new-r"], 13, 13, None, ("uid", "landlock", "apparmor"), ""),
    ("wd-rmdir-tmp", "rmdir", ["tmp"], 13, 13, None, ("uid", "landlock", "apparmor"), ""),
    ("wd-rename-tmp", "rename", ["tmp", WD + "/cj-new-t"], 13, 13, None, ("uid", "landlock", "apparmor"), ""),
    ("wd-utime-now", "utime-now", ["jailed_code"], 13, 13, None, ("uid",), ""),
    ("wd-utime-set", "utime-set", ["jailed_code"], 1, 1, None, ("uid",), ""),
    ("wd-chmod", "chmod", ["jailed_code"], 1, 1, 13, ("uid", "apparmor"),
     "the sandbox profile grants the jail dir's files read only, upstream's profile write"),
    ("wd-chown", "chown", ["jailed_code"], 1, 1, 13, ("uid", "apparmor"),
     "the sandbox profile grants the jail dir's files read only, upstream's profile write"),
    ("wd-chmod-dir", "chmod", [WD], 13, 1, 13, ("uid", "apparmor"),
     "only AppArmor mediates chmod before the owner check (Landlock does not): 1 where the kernel has none"),
    # -- the rest of the root: /, /etc (the root's own tmpfs), the interpreter's tree -------
    ("root-create", "create", [ROOT + "cj-new-f"], 13, 30, None, ("root",), _RO_WHY),
    ("root-mkdir", "mkdir", [ROOT + "cj-new-d"], 13, 30, None, ("root",), _RO_WHY),
    ("root-mkfifo", "mkfifo", [ROOT + "cj-new-p"], 13, 30, None, ("root",), _RO_WHY),
    ("root-symlink", "symlink", [ROOT + "cj-new-l"], 13, 30, None, ("root",), _RO_WHY),
    ("etc-append", "append", [ETC + "/hosts"], 13, 13, None, ("uid", "landlock", "apparmor"), ""),
    ("etc-truncate", "truncate", [ETC + "/hosts"], 13, TRUNCATE_RO, None, TRUNCATE_RO_LAYERS, _TRUNC_WHY),
    ("etc-unlink", "unlink", [ETC + "/hosts"], 13, 30, None, ("root",), _RO_WHY),
    ("etc-rename", "rename", [ETC + "/hosts", ETC + "/cj-new-r"], 13, 30, None, ("root",), _RO_WHY),
    ("etc-link", "link", [ETC + "/hosts", ETC + "/cj-new-h"], 1, 30, None, ("root",), _RO_WHY),
    ("etc-utime-now", "utime-now", [ETC + "/hosts"], 13, 30, None, ("root",), _RO_WHY),
    ("etc-utime-set", "utime-set", [ETC + "/hosts"], 1, 30, None, ("root",), _RO_WHY),
    ("etc-chmod", "chmod", [ETC + "/hosts"], 13, 30, None, ("root",), _RO_WHY),
    ("etc-chown", "chown", [ETC + "/hosts"], 13, 30, None, ("root",), _RO_WHY),
    ("usr-create", "create", [PYLIB + "/cj-new-f"], 13, 30, None, ("root",), _RO_WHY),
    ("usr-mkdir", "mkdir", [PYLIB + "/cj-new-d"], 13, 30, None, ("root",), _RO_WHY),
    ("usr-symlink", "symlink", [PYLIB + "/cj-new-l"], 13, 30, None, ("root",), _RO_WHY),
    ("usr-append", "append", [PYLIB + "/os.py"], 13, 13, None, ("uid", "landlock", "apparmor"), ""),
    ("usr-truncate", "truncate", [PYLIB + "/os.py"], 13, TRUNCATE_RO, None, TRUNCATE_RO_LAYERS, _TRUNC_WHY),
    ("usr-unlink", "unlink", [PYLIB + "/os.py"], 13, 30, None, ("root",), _RO_WHY),
    ("usr-rename", "rename", [PYLIB + "/os.py", PYLIB + "/cj-new-r"], 13, 30, None, ("root",), _RO_WHY),
    ("usr-rmdir", "rmdir", [PYLIB + "/json"], 13, 30, None, ("root",), _RO_WHY),
    ("usr-link", "link", [PYLIB + "/os.py", PYLIB + "/cj-new-h"], 1, 30, None, ("root",), _RO_WHY),
    ("usr-utime-now", "utime-now", [PYLIB + "/os.py"], 13, 30, None, ("root",), _RO_WHY),
    ("usr-chmod", "chmod", [PYLIB + "/os.py"], 13, 30, None, ("root",), _RO_WHY),
    ("usr-chown", "chown", [PYLIB + "/os.py"], 13, 30, None, ("root",), _RO_WHY),
    # -- /tmp, the jail dir's parent (..) ----------------------------------------------------
    ("tmp-create", "create", [TMP + "/cj-new-f"], 13, 13, None, ("uid", "landlock", "mounts", "apparmor"), ""),
    ("tmp-mkdir", "mkdir", [TMP + "/cj-new-d"], 13, 13, None, ("uid", "landlock", "mounts", "apparmor"), ""),
    ("tmp-mkfifo", "mkfifo", [TMP + "/cj-new-p"], 13, 13, None, ("uid", "landlock", "mounts", "apparmor"), ""),
    ("tmp-symlink", "symlink", [TMP + "/cj-new-l"], 13, 13, None, ("uid", "landlock", "mounts", "apparmor"), ""),
]

# What each op is, for people (README).
OP_TEXT = {
    "create": "`open(new, 'x')`", "mkdir": "`os.mkdir`", "mkfifo": "`os.mkfifo`", "symlink": "`os.symlink`",
    "link": "`os.link`", "append": "`open(existing, 'a')`", "truncate": "`os.truncate`",
    "unlink": "`os.unlink`", "rename": "`os.rename`", "rmdir": "`os.rmdir`",
    "utime-now": "`os.utime(p)`", "utime-set": "`os.utime(p, times)`", "chmod": "`os.chmod`",
    "chown": "`os.chown`",
}

PROBE = r'''
import ctypes, json, os, stat, sys
_ROWS = ROWS_JSON
_PYLIB = "/usr/lib/python%d.%d" % sys.version_info[:2]

def _unprivileged():
    # euid not 0 and no effective capability: nothing here can succeed
    if os.geteuid() == 0:
        return False
    class _H(ctypes.Structure):
        _fields_ = [("v", ctypes.c_uint32), ("pid", ctypes.c_int)]
    class _D(ctypes.Structure):
        _fields_ = [("e", ctypes.c_uint32), ("p", ctypes.c_uint32), ("i", ctypes.c_uint32)]
    h, d = _H(0x20080522, 0), (_D * 2)()
    if ctypes.CDLL(None).capget(ctypes.byref(h), d) != 0:
        return False
    return d[0].e == 0 and d[1].e == 0

def _readonly(p):
    try:
        return bool(os.statvfs(p).f_flag & os.ST_RDONLY)
    except OSError:
        return False

def _op(op, a, b):
    # Beyond the jail dir and /tmp only what cannot succeed is tried: a
    # sabotaged jail runs as root on the host's own tree.
    own = not a.startswith("/") or a.startswith("/tmp/")
    if not own and not (_unprivileged() or _readonly(a)):
        return "not-attempted"
    if op == "create":
        os.close(os.open(a, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.unlink(a)
    elif op == "mkdir":
        os.mkdir(a, 0o700)
        os.rmdir(a)
    elif op == "mkfifo":
        os.mkfifo(a, 0o600)
        os.unlink(a)
    elif op == "symlink":
        os.symlink("cj-target", a)
        os.unlink(a)
    elif op == "link":
        os.link(a, b)
        os.unlink(b)
    elif op == "append":
        os.close(os.open(a, os.O_WRONLY | os.O_APPEND))
    elif op == "truncate":
        os.truncate(a, os.stat(a).st_size)
    elif op == "utime-set":
        st = os.stat(a)
        os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns))
    elif op == "chmod":
        os.chmod(a, stat.S_IMODE(os.stat(a).st_mode))
    elif op == "chown":
        st = os.stat(a)
        os.chown(a, st.st_uid, st.st_gid)
    elif op in ("unlink", "rename", "rmdir", "utime-now"):
        if not (_unprivileged() or _readonly(a)):
            return "not-attempted"
        if op == "unlink":
            os.unlink(a)
        elif op == "rename":
            os.rename(a, b)
            os.rename(b, a)
        elif op == "rmdir":
            os.rmdir(a)
        else:
            os.utime(a)
    else:
        return "unknown op"
    return "ok"

def _run():
    out = {}
    tok = "cj-new-%s-" % os.urandom(4).hex()
    for rid, op, args in _ROWS:
        args = [x.replace("PYLIB", _PYLIB).replace("cj-new-", tok) for x in args] + [None]
        try:
            out[rid] = _op(op, args[0], args[1])
        except OSError as e:
            out[rid] = e.errno
    return out

r = _run()
kernel = os.uname().release
del ctypes, json, os, stat, sys, _run, _op, _readonly, _unprivileged
'''


def probe_code(rows=None):
    rows = ROWS if rows is None else rows
    return PROBE.replace("ROWS_JSON", json.dumps([[r[0], r[1], r[2]] for r in rows]))


def kernel_version(release):
    parts = []
    for p in release.split("-")[0].split(".")[:2]:
        parts.append(int("".join(c for c in p if c.isdigit()) or 0))
    return tuple(parts)


def expected_ours(row, kernel_release, apparmor):
    ours, with_aa = row[4], row[5]
    if apparmor and with_aa is not None:
        return with_aa
    if isinstance(ours, dict):
        return ours["then"] if kernel_version(kernel_release) < ours["before"] else ours["else"]
    return ours


def _ours_text(ours):
    if isinstance(ours, dict):
        return f"{ours['then']} ({ours['else']} from kernel {ours['before'][0]}.{ours['before'][1]})"
    return str(ours)


def _where(args):
    p = args[0]
    if p == "jailed_code" or p.startswith(WD + "/") or p in (WD, "tmp"):
        return "working directory (the jail dir)"
    if p.startswith(PYLIB):
        return "`/usr/lib/python3.X`, its `os.py` (`/usr`)"
    if p.startswith(ETC):
        return "`/etc`, `/etc/hosts` (the root's own tmpfs)"
    if p.startswith(TMP):
        return "`/tmp` (`..`)"
    return "`/` (the root's own tmpfs)"


def markdown():
    """README's table: rows grouped by place, errnos and reason."""
    groups = {}
    for rid, op, args, up, ours, with_aa, _layers, why in ROWS:
        target = {"jailed_code": "`jailed_code`", "tmp": "`tmp`", WD: "`.`"}.get(args[0], "")
        key = (_where(args), up, _ours_text(ours), "" if with_aa is None else str(with_aa), why)
        groups.setdefault(key, []).append(OP_TEXT[op] + (f" on {target}" if target else ""))
    lines = ["| where | operations | upstream | ours | ours, sandbox profile in force | why ours differs |",
             "|---|---|---|---|---|---|"]
    for (where, up, ours, with_aa, why), ops in groups.items():
        seen = []
        for o in ops:
            if o not in seen:
                seen.append(o)
        lines.append(f"| {where} | {', '.join(seen)} | {up} | {ours} | {with_aa or ours} | {why or '--'} |")
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:] == ["--markdown"]:
        print(markdown())
    elif sys.argv[1:] == ["--probe"]:
        print(probe_code())
    else:
        sys.exit("usage: write_errno.py --markdown | --probe")
