# SPDX-License-Identifier: Apache-2.0
"""An upstream-equivalent local execution: the `codejail` library's
safe_exec() and jail_code() as the LMS runs them when codejail is local,
re-implemented from their documented behaviour (this tree carries no copy of
the library; there is no Debian package of it).

* safe_exec: the program written to jailed_code sinks sys.stdout, reads
  [code, globals] from stdin, appends each python_path entry's basename to
  sys.path, runs `exec(code, g_dict)` at module level, filters the globals
  with json_safe and dumps them to the real stdout. stdin is
  json.dumps([code, json_safe(globals)]). A non-zero status raises
  SafeExecException("Couldn't execute jailed code: stdout: {out!r},
  stderr: {err!r} with status code: {status}"); otherwise the globals are
  updated with json.loads(stdout) -- which raises as it raises (a corrupted
  stdout is an unexpected error to the LMS, not an emsg). A python_path
  entry that is not an uploaded file is copied from the caller's disk:
  here there is none, so that fails as it fails upstream.
* jail_code: a fresh /tmp/codejail-XXXXXXXX (mkdtemp) owned by the caller,
  0775, with tmp/ 0777; the program as `python -E -B jailed_code` in it,
  as the sandbox user (here a UID of the caller's choosing) through sudo:
  the environment is {"TMPDIR": "tmp"} (codejail's) plus what sudo's
  env_reset sets for `sudo -u sandbox` (HOME, PATH from Debian's
  secure_path, LOGNAME, USER, USERNAME, SHELL, MAIL, SUDO_*; the sandbox
  user of codejail's images has no home directory), a new session;
  create_rlimits(): NPROC, CPU (soft, hard + 1), VMEM as RLIMIT_AS, each
  only when non-zero, FSIZE always; a killer thread that checks every
  0.25 s and kills the process group at REALTIME (none at 0).

AppArmor, upstream's boundary, is absent from this kernel: its inner
profile's file rules that Landlock can state the same way stand in
(apparmor_standin.py: writes only beneath the jail dir, no program but the
interpreter -- matplotlib, for one, takes another path when it may start
fc-list); its read, network and signal rules do not, so
tests/darklaunch/compare.py replays no payload that probes them.
"""

import json
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import apparmor_standin


class SafeExecException(Exception):
    """The code failed: its message is the LMS's emsg."""


def json_safe(d):
    """Keep what survives a JSON round trip: None, int, float, bytes (decoded
    as UTF-8 at any depth), str, list, tuple, dict; drop __builtins__ and any
    entry whose key or value does not survive."""
    kinds = (type(None), int, float, bytes, str, list, tuple, dict)

    def decoded(o):
        if isinstance(o, bytes):
            return o.decode("utf-8")
        if isinstance(o, (list, tuple)):
            return [decoded(x) for x in o]
        if isinstance(o, dict):
            return {decoded(k): decoded(v) for k, v in o.items()}
        return o

    kept = {}
    for k, v in d.items():
        if not isinstance(v, kinds) or k == "__builtins__":
            continue
        try:
            v = json.loads(json.dumps(decoded(v)))
            k = json.loads(json.dumps(decoded(k)))
        except Exception:  # noqa: BLE001 -- anything that does not survive is dropped
            continue
        kept[k] = v
    return json.loads(json.dumps(kept))


_JSON_SAFE_SOURCE = '''
def json_safe(d):
    kinds = (type(None), int, float, bytes, str, list, tuple, dict)
    def decoded(o):
        if isinstance(o, bytes):
            return o.decode("utf-8")
        if isinstance(o, (list, tuple)):
            return [decoded(x) for x in o]
        if isinstance(o, dict):
            return {decoded(k): decoded(v) for k, v in o.items()}
        return o
    kept = {}
    for k, v in d.items():
        if not isinstance(v, kinds) or k == "__builtins__":
            continue
        try:
            v = json.loads(json.dumps(decoded(v)))
            k = json.loads(json.dumps(decoded(k)))
        except Exception:
            continue
        kept[k] = v
    return json.loads(json.dumps(kept))
'''


def jailed_code(python_path):
    lines = ["import sys", "import six", "try:", "    import simplejson as json", "except ImportError:",
             "    import json", "class DevNull(object):", "    def write(self, *args, **kwargs):", "        pass",
             "    def flush(self, *args, **kwargs):", "        pass", "sys.stdout = DevNull()",
             "code, g_dict = json.load(sys.stdin)"]
    lines += [f"sys.path.append({os.path.basename(p)!r})" for p in python_path]
    lines += ["exec(code, g_dict)", _JSON_SAFE_SOURCE, "g_dict = json_safe(g_dict)", "json.dump(g_dict, sys.__stdout__)"]
    return "\n".join(lines) + "\n"


def create_rlimits(limits):
    r = []
    if limits["NPROC"]:
        r.append((resource.RLIMIT_NPROC, (limits["NPROC"], limits["NPROC"])))
    if limits["CPU"]:
        r.append((resource.RLIMIT_CPU, (limits["CPU"], limits["CPU"] + 1)))
    if limits["VMEM"]:
        r.append((resource.RLIMIT_AS, (limits["VMEM"], limits["VMEM"])))
    r.append((resource.RLIMIT_FSIZE, (limits["FSIZE"], limits["FSIZE"])))
    return r


def kill_uid(uid):
    """What a run leaves behind (a child in a session of its own escapes the
    process-group kill, upstream as here): gone before the next run."""
    for _ in range(50):
        left = []
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                if os.stat(f"/proc/{p}").st_uid == uid:
                    left.append(int(p))
                    os.kill(int(p), signal.SIGKILL)
            except OSError:
                pass
        if not left:
            return
        time.sleep(0.02)


def jail_code(program, stdin, extra_files, limits, python_bin, sandbox_uid, owner_uid):
    """(status, stdout, stderr) of python_bin -E -B jailed_code."""
    home = tempfile.mkdtemp(prefix="codejail-", dir="/tmp")
    try:
        os.chmod(home, 0o775)
        tmp = os.path.join(home, "tmp")
        os.mkdir(tmp)
        os.chmod(tmp, 0o777)
        for name, content in [("jailed_code", program.encode())] + list(extra_files):
            p = os.path.join(home, name)
            with open(p, "wb") as f:
                f.write(content)
            os.chmod(p, 0o644)
            os.chown(p, owner_uid, owner_uid)
        os.chown(home, owner_uid, owner_uid)
        os.chown(tmp, owner_uid, owner_uid)
        rl = create_rlimits(limits)

        def child():
            os.setsid()
            for res, val in rl:
                resource.setrlimit(res, val)
            os.setgroups([])
            os.setresgid(sandbox_uid, sandbox_uid, sandbox_uid)
            os.setresuid(sandbox_uid, sandbox_uid, sandbox_uid)
            apparmor_standin.restrict(home, python_bin)

        env = {"TMPDIR": "tmp", "HOME": "/home/sandbox", "LOGNAME": "sandbox", "USER": "sandbox",
               "USERNAME": "sandbox", "SHELL": "/bin/false", "MAIL": "/var/mail/sandbox",
               "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               "SUDO_COMMAND": f"{python_bin} -E -B jailed_code", "SUDO_USER": "app",
               "SUDO_UID": str(owner_uid), "SUDO_GID": str(owner_uid)}
        p = subprocess.Popen([python_bin, "-E", "-B", "jailed_code"], cwd=home, env=env,
                             preexec_fn=child, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        if limits["REALTIME"]:
            def killer():
                start = time.time()
                while time.time() - start < limits["REALTIME"]:
                    time.sleep(0.25)
                    if p.poll() is not None:
                        return
                if p.poll() is None:
                    try:
                        os.killpg(p.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            threading.Thread(target=killer, daemon=True).start()
        out, err = p.communicate(stdin)
        return p.returncode, out, err
    finally:
        kill_uid(sandbox_uid)
        shutil.rmtree(home, ignore_errors=True)


def safe_exec(code, globals_dict, python_path, extra_files, limits, python_bin, sandbox_uid, owner_uid):
    """Runs code; updates globals_dict on success; raises SafeExecException
    with upstream's emsg on failure, anything else as it comes."""
    extra_names = {name for name, _ in extra_files}
    for p in python_path:
        if os.path.basename(p) not in extra_names:
            # jail_code copies it from the caller's disk: the service has none
            raise FileNotFoundError(2, "No such file or directory", p)
    stdin = json.dumps([code, json_safe(globals_dict)]).encode()
    status, out, err = jail_code(jailed_code(python_path), stdin, extra_files, limits, python_bin,
                                 sandbox_uid, owner_uid)
    if status != 0:
        raise SafeExecException(f"Couldn't execute jailed code: stdout: {out!r}, stderr: {err!r} "
                                f"with status code: {status}")
    globals_dict.update(json.loads(out.decode("utf-8")))
