#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The upstream column of api_tests/write_errno.py, measured.

Upstream's write denials come from two places, and this rebuilds both in
upstream's own layout on this host (run as root):

* DAC, for real: a jail dir /tmp/codejail-XXXXXXXX made as codejail's
  jail_code() makes it (owned by a service UID, 0775; tmp/ 0777; files
  0644), the probe run by python3 -E -B jailed_code as another UID (the
  shared sandbox user), environment {"TMPDIR": "tmp"}, on the host's own
  read-write tree.
* AppArmor's inner profile (edx/public-dockerfiles openedx_codejail_service:
  `/tmp/codejail-*/ r`, `/tmp/codejail-*/** rw`, nothing else writable),
  for the operations both LSMs mediate, by Landlock with the same write
  grant: write rights beneath the jail dir only. Landlock's and AppArmor's
  file hooks are the same LSM hooks (path_mknod, path_mkdir, path_symlink,
  path_unlink, path_rmdir, path_rename, path_link, path_truncate,
  file_open), so the kernel asks them at the same point against the
  same DAC checks: where DAC answers first its errno stands, where the
  hook comes first it answers 13.
* chmod and chown: AppArmor mediates them (path_chmod, path_chown, called
  in chmod_common()/chown_common() before notify_change()'s owner check)
  and Landlock does not, so for those the profile is applied here: 13
  unless the path has write permission. `**` in an AppArmor path needs at
  least one character after the slash (apparmor_parser, parser_regex.c),
  so the jail dir itself has `r` only and its entries `rw`. utime has no
  AppArmor hook: DAC only, as measured.

Exit 1 when a measured value differs from the table's upstream column.
"""

import json
import os
import random
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "api_tests"))
sys.path.insert(0, HERE)
import write_errno  # noqa: E402
import apparmor_standin  # noqa: E402

PYTHON = "/usr/bin/python3"


def apparmor_may_write(path, jail):
    """upstream's inner profile: write only at /tmp/codejail-*/<one or more chars>."""
    real = os.path.normpath(os.path.join(jail, path.replace(write_errno.PYLIB, "/usr/lib/python3")))
    return real.startswith(jail + "/") and len(real) > len(jail) + 1


def main():
    if os.geteuid() != 0:
        sys.exit("errno_upstream.py: needs root (two UIDs, Landlock)")
    service = 800_000_000 + random.randrange(1_000_000)
    sandbox = service + 1_000_000
    jail = tempfile.mkdtemp(prefix="codejail-", dir="/tmp")
    try:
        os.chmod(jail, 0o775)
        os.mkdir(os.path.join(jail, "tmp"))
        os.chmod(os.path.join(jail, "tmp"), 0o777)
        code = write_errno.probe_code() + "\nimport json\nprint(json.dumps({'r': r, 'kernel': kernel}))\n"
        for name, data in (("jailed_code", code), ("python_lib.zip", "")):
            p = os.path.join(jail, name)
            with open(p, "w") as f:
                f.write(data)
            os.chmod(p, 0o644)
            os.chown(p, service, service)
        for p in (jail, os.path.join(jail, "tmp")):
            os.chown(p, service, service)

        rd, wr = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(rd)
                os.dup2(wr, 1)
                os.setgroups([])
                os.setresgid(sandbox, sandbox, sandbox)
                os.setresuid(sandbox, sandbox, sandbox)
                apparmor_standin.restrict(jail)
                os.chdir(jail)
                os.execve(PYTHON, [PYTHON, "-E", "-B", "jailed_code"], {"TMPDIR": "tmp"})
            except BaseException as e:  # noqa: BLE001 -- report, never return into the parent's code
                os.write(2, f"errno_upstream.py: child: {e!r}\n".encode())
            os._exit(127)
        os.close(wr)
        with os.fdopen(rd) as f:
            out = f.read()
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"errno_upstream.py: the probe failed (status {status}): {out[-2000:]}")
        measured = json.loads(out)
    finally:
        shutil.rmtree(jail, ignore_errors=True)

    bad = 0
    for rid, op, args, upstream, *_ in write_errno.ROWS:
        got = measured["r"][rid]
        if op in ("chmod", "chown") and isinstance(got, int) and not apparmor_may_write(args[0], jail):
            got = 13  # path_chmod/path_chown: the profile refuses before the owner check
        ok = got == upstream
        bad += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {rid:16} upstream {got} (table: {upstream})")
    print(f"errno_upstream: {len(write_errno.ROWS) - bad} of {len(write_errno.ROWS)} rows as the table says "
          f"(kernel {measured['kernel']})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
