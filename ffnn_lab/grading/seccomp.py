"""A seccomp filter for the sandbox, compiled by libseccomp (the maintained library, through ctypes).

It refuses the system calls an honest notebook never makes and an attack would: the kernel's key
store (a key written by one submission would be read by the next, and the grader's keys by all),
tracing and reading other processes' memory, performance counters, BPF, userfaultfd, io_uring, and
new user namespaces (a bigger kernel surface). Everything else is allowed; bubblewrap loads the
program (`--seccomp FD`) just before it starts the sandbox's first process.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import os

# refused with EPERM: what the key store, debugging and kernel-extension interfaces need
REFUSED = (
    "keyctl",
    "add_key",
    "request_key",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "perf_event_open",
    "bpf",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "mount",
    "umount2",
    "pivot_root",
    "swapon",
    "swapoff",
    "reboot",
)
CLONE_NEWUSER = 0x10000000
SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_MASKED_EQ = 7


def _errno_action(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)  # SCMP_ACT_ERRNO(code)


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("a", ctypes.c_uint64), ("b", ctypes.c_uint64)]


@functools.lru_cache(maxsize=1)
def program() -> bytes | None:
    """The compiled filter (raw BPF, as bubblewrap reads it), or None where libseccomp is missing."""
    name = ctypes.util.find_library("seccomp")
    if name is None:
        return None
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return None
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.POINTER(_ArgCmp),
    ]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    ctx = lib.seccomp_init(SCMP_ACT_ALLOW)
    if not ctx:
        return None
    try:

        def refuse(syscall: str, code: int = errno.EPERM, *compare: _ArgCmp) -> None:
            number = lib.seccomp_syscall_resolve_name(syscall.encode())
            if number < 0:  # not on this architecture
                return
            array = (_ArgCmp * len(compare))(*compare) if compare else None
            if lib.seccomp_rule_add_array(ctx, _errno_action(code), number, len(compare), array) != 0:
                raise OSError(f"libseccomp refused a rule for {syscall}")

        for syscall in dict.fromkeys(REFUSED):
            refuse(syscall)
        new_user = _ArgCmp(0, SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER)
        refuse("unshare", errno.EPERM, new_user)
        refuse("clone", errno.EPERM, new_user)  # flags are clone's first argument on x86-64 and arm64
        refuse("clone3", errno.ENOSYS)  # flags in memory a filter cannot read: callers fall back to clone
        read_end, write_end = os.pipe()
        try:
            if lib.seccomp_export_bpf(ctx, write_end) != 0:
                return None
            os.close(write_end)
            write_end = -1
            chunks = []
            while chunk := os.read(read_end, 1 << 16):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(read_end)
            if write_end >= 0:
                os.close(write_end)
    except OSError:
        return None
    finally:
        lib.seccomp_release(ctx)
