# SPDX-License-Identifier: Apache-2.0
"""Landlock standing in for upstream's AppArmor inner profile on a kernel
without AppArmor (edx/public-dockerfiles openedx_codejail_service:
`/tmp/codejail-*/ r`, `/tmp/codejail-*/** rw`, the interpreter `rm`,
nothing else writable, no other program).

Only the parts Landlock can say the same way, at the same LSM hooks:
file writes (create, remove, rename, link, truncate, open for writing)
only beneath the jail dir, and execve only of the interpreter (and the
dynamic loader the kernel opens with it). Reads,
sockets and signals are not restricted: what depends on them is not
compared with this stand-in (tests/darklaunch/compare.py), and chmod and
chown, which Landlock does not mediate, are applied from the profile where
needed (errno_upstream.py).
"""

import ctypes
import os

SYS_landlock_create_ruleset, SYS_landlock_add_rule, SYS_landlock_restrict_self = 444, 445, 446
PR_SET_NO_NEW_PRIVS = 38
EXECUTE = 1 << 0
# WRITE_FILE, REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR, MAKE_REG, MAKE_SOCK,
# MAKE_FIFO, MAKE_BLOCK, MAKE_SYM (ABI 1); REFER from ABI 2, TRUNCATE from 3.
WRITE_RIGHTS = sum(1 << b for b in (1, 4, 5, 6, 7, 8, 9, 10, 11, 12))
REFER, TRUNCATE = 1 << 13, 1 << 14


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def elf_interpreter(path):
    """The program's PT_INTERP (the dynamic loader execve() opens for
    execution too), or None."""
    import struct
    with open(path, "rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2:
            return None
        phoff, = struct.unpack_from("<Q", head, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", head, 0x36)
        for i in range(phnum):
            f.seek(phoff + i * phentsize)
            p_type, _flags, p_offset, _va, _pa, p_filesz = struct.unpack("<IIQQQQ", f.read(40))
            if p_type == 3:  # PT_INTERP
                f.seek(p_offset)
                return f.read(p_filesz).rstrip(b"\0").decode()
    return None


def restrict(jail_dir, interpreter=None):
    """This process (and what it runs next): writes only beneath jail_dir;
    with interpreter, execve of that file only. Raises OSError."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    abi = libc.syscall(SYS_landlock_create_ruleset, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    if abi < 1:
        raise OSError(ctypes.get_errno(), "Landlock is not available")
    writes = WRITE_RIGHTS | (REFER if abi >= 2 else 0) | (TRUNCATE if abi >= 3 else 0)
    handled = writes | (EXECUTE if interpreter else 0)
    attr = ctypes.c_uint64(handled)  # struct landlock_ruleset_attr: handled_access_fs only
    rs = libc.syscall(SYS_landlock_create_ruleset, ctypes.byref(attr), ctypes.c_size_t(8), ctypes.c_uint32(0))
    if rs < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset")
    try:
        rules = [(jail_dir, writes)]
        if interpreter:
            real = os.path.realpath(interpreter)
            rules.append((real, EXECUTE))
            loader = elf_interpreter(real)
            if loader:
                rules.append((os.path.realpath(loader), EXECUTE))
        for path, access in rules:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                rule = _PathBeneath(access, fd)
                if libc.syscall(SYS_landlock_add_rule, ctypes.c_int(rs), ctypes.c_int(1), ctypes.byref(rule),
                                ctypes.c_uint32(0)) < 0:
                    raise OSError(ctypes.get_errno(), f"landlock_add_rule {path}")
            finally:
                os.close(fd)
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0:
            raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
        if libc.syscall(SYS_landlock_restrict_self, ctypes.c_int(rs), ctypes.c_uint32(0)) < 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self")
    finally:
        os.close(rs)
