"""The system calls an isolated worker may not make, compiled to BPF by libseccomp.

The rules are written as data and compiled by libseccomp (Debian's libseccomp2, through ctypes),
not as hand-built BPF: it knows every architecture's numbering and refuses foreign ABIs. Two
programs: `WORKER_FILTER` goes to bubblewrap (`--seccomp`), which loads it just before it starts
the worker; `EXEC_FILTER` the worker loads itself once it has set up (it still needs execve to
start and setuid to leave root), so proposed code can neither start a program nor change user.
"""
from __future__ import annotations

import ctypes
import errno
import functools
import os
from typing import Iterable, Tuple

_ACT_ALLOW = 0x7FFF0000
_CMP_MASKED_EQ = 7
_CLONE_THREAD = 0x00010000

# Refused with EPERM: other processes (creating, signalling, tracing, reading), the network,
# and the kernel's own surfaces that a computation never needs.
REFUSED_CALLS = (
    "fork", "vfork",
    "kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo",
    "pidfd_open", "pidfd_send_signal", "pidfd_getfd",
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
    "socket", "socketpair",
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "open_tree", "move_mount",
    "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    "bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key", "request_key",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot",
    "swapon", "swapoff", "acct", "quotactl", "name_to_handle_at", "open_by_handle_at",
    "iopl", "ioperm", "syslog", "uselib", "vhangup", "mknod", "mknodat", "lookup_dcookie",
)
# Refused once the worker runs: starting another program and changing identity.
REFUSED_AFTER_SETUP = (
    "execve", "execveat", "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid",
    "setgroups", "setfsuid", "setfsgid", "capset",
)


class SeccompUnavailable(RuntimeError):
    """libseccomp is missing: isolated execution cannot filter system calls."""


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


@functools.lru_cache(maxsize=1)
def _libseccomp() -> ctypes.CDLL:
    try:
        lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    except OSError as exc:
        raise SeccompUnavailable(
            f"libseccomp is not installed ({exc}); install it: apt-get install libseccomp2") from None
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                           ctypes.c_uint, ctypes.POINTER(_ArgCmp)]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    return lib


def _errno_action(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)


def _compile(refused: Iterable[str], extra: Tuple[Tuple[str, int, Tuple[_ArgCmp, ...]], ...] = ()) -> bytes:
    """A BPF program (struct sock_filter[]) that allows all but `refused` (EPERM) and `extra`."""
    lib = _libseccomp()
    ctx = lib.seccomp_init(_ACT_ALLOW)
    if not ctx:
        raise SeccompUnavailable("seccomp_init failed")
    try:
        rules = [(name, _errno_action(errno.EPERM), ()) for name in refused] + list(extra)
        for name, action, conditions in rules:
            number = lib.seccomp_syscall_resolve_name(name.encode())
            if number < 0:  # not a call of this architecture
                continue
            array = (_ArgCmp * len(conditions))(*conditions) if conditions else None
            if lib.seccomp_rule_add_array(ctx, action, number, len(conditions), array) < 0:
                raise SeccompUnavailable(f"libseccomp refused the rule for {name}")
        read_fd, write_fd = os.pipe()
        try:
            if lib.seccomp_export_bpf(ctx, write_fd) < 0:
                raise SeccompUnavailable("seccomp_export_bpf failed")
            os.close(write_fd)
            write_fd = -1
            chunks = []
            while chunk := os.read(read_fd, 65536):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(read_fd)
            if write_fd >= 0:
                os.close(write_fd)
    finally:
        lib.seccomp_release(ctx)


@functools.lru_cache(maxsize=1)
def worker_filter() -> bytes:
    """What bubblewrap loads: no new processes (threads stay: clone with CLONE_THREAD), no
    signals or tracing of anything, no sockets, no kernel surfaces. clone3 answers ENOSYS,
    so the C library falls back to clone, whose flags the filter can see."""
    not_a_thread = (_ArgCmp(0, _CMP_MASKED_EQ, _CLONE_THREAD, 0),)
    extra = (("clone", _errno_action(errno.EPERM), not_a_thread),
             ("clone3", _errno_action(errno.ENOSYS), ()))
    return _compile(REFUSED_CALLS, extra)


@functools.lru_cache(maxsize=1)
def exec_filter() -> bytes:
    """What the worker loads itself after its set-up: no exec, no change of identity."""
    return _compile(REFUSED_AFTER_SETUP)
