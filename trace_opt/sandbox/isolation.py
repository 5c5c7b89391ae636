"""How a worker process is started: bubblewrap, with the kernel's isolation, or not at all.

The worker gets namespaces of its own (user, pid, mount, IPC, UTS, network: no network at all),
a file system of read-only binds (the interpreter, its standard library, the C libraries, the
packages the policy allows) and a private tmpfs scratch dir, no environment, no descriptor but
its two pipes, and the seccomp filter of seccomp_filter.py. It runs as uid 65534 (nobody): as a
user, bubblewrap maps it into a user namespace of its own; as root, the worker starts as root
of a user namespace that maps only root and nobody (so that bubblewrap can bind an interpreter
that lives in root's home) and turns into nobody before it reads a byte of proposed code.
When bubblewrap or libseccomp is missing, or the kernel refuses a namespace, `IsolationUnavailable`
says what to install: nothing falls back to weaker isolation.
"""
from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import threading
from pathlib import Path
from typing import List, Sequence, Tuple

from .seccomp_filter import SeccompUnavailable, worker_filter

_CLONE_NEWUSER = 0x10000000
_NOBODY = 65534
WORKER_DIR = "/opt/trace_opt_worker"
SCRATCH = "/tmp"
_HERE = Path(__file__).resolve().parent


class IsolationUnavailable(RuntimeError):
    """The kernel isolation an untrusted call needs is not there; the message says what to do."""


def bwrap_path() -> str:
    path = shutil.which("bwrap") or ("/usr/bin/bwrap" if os.path.exists("/usr/bin/bwrap") else None)
    if path is None:
        raise IsolationUnavailable(
            "bubblewrap is not installed, so code an LLM wrote cannot run isolated: install it "
            "(Debian/Ubuntu: apt-get install bubblewrap), or pass trusted=True for code you wrote yourself")
    return path


def _stdlib_dirs() -> List[str]:
    paths = sysconfig.get_paths()
    return sorted({os.path.realpath(paths["stdlib"]), os.path.realpath(paths["platstdlib"])})


def _site_dirs() -> List[str]:
    """The base interpreter's site-packages: bound with the prefix, then hidden under a tmpfs."""
    base = {"base": sys.base_prefix, "platbase": sys.base_exec_prefix, "installed_base": sys.base_prefix,
            "installed_platbase": sys.base_exec_prefix}
    paths = sysconfig.get_paths(vars=base)
    return sorted({os.path.realpath(paths["purelib"]), os.path.realpath(paths["platlib"])})


@functools.lru_cache(maxsize=64)
def package_binds(modules: frozenset) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
    """(paths to bind, dirs for sys.path) for the allowed modules that are not in the stdlib."""
    stdlib = _stdlib_dirs()
    binds, roots = set(), set()
    for name in sorted(modules):
        try:
            spec = importlib.util.find_spec(name.split(".")[0])
        except (ImportError, ValueError):
            spec = None
        origin = getattr(spec, "origin", None)
        if not origin or origin in ("built-in", "frozen") or not os.path.isabs(origin):
            continue
        origin = os.path.realpath(origin)
        if any(origin.startswith(d + os.sep) for d in stdlib):
            continue
        location = os.path.dirname(origin) if spec.submodule_search_locations else origin
        root = os.path.dirname(location)
        binds.add(location)
        roots.add(root)
        top = name.split(".")[0]
        for sibling in Path(root).glob(f"{top}*.libs"):  # the shared libraries wheels bundle
            binds.add(str(sibling))
    return tuple(sorted(binds)), tuple(sorted(roots))


def _system_layout() -> List[str]:
    """The C libraries and the loader's cache, mirrored as the host has them (symlinks kept)."""
    args: List[str] = []
    for path in ("/usr/lib", "/usr/lib64", "/usr/lib32", "/lib", "/lib64", "/lib32"):
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    if os.path.exists("/etc/ld.so.cache"):
        args += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    return args


def _interpreter() -> List[str]:
    prefix = os.path.realpath(sys.base_prefix)
    exe = os.path.realpath(sys.executable)
    args = ["--ro-bind", prefix, prefix]
    if not exe.startswith(prefix + os.sep):
        args += ["--ro-bind", exe, exe]
    for site in _site_dirs():
        if site.startswith(prefix + os.sep) and os.path.isdir(site):
            args += ["--tmpfs", site]  # the base interpreter's packages: not allowed, not there
    return args


def _open_parents(binds: List[str]) -> List[str]:
    """The directories above each bind target, made traversable (bubblewrap would copy /root's 0700)."""
    targets = [binds[i + 2] for i, arg in enumerate(binds) if arg == "--ro-bind"]
    parents: List[str] = []
    for target in targets:
        for parent in reversed(Path(target).parents):
            if str(parent) != "/" and str(parent) not in parents and not str(parent).startswith(("/usr", "/lib", "/etc")):
                parents.append(str(parent))
    return [arg for parent in parents for arg in ("--perms", "0755", "--dir", parent)]


_ROOT_NAMESPACE_LOCK = threading.Lock()


# The holder enters its new user namespace itself (a fresh, single-threaded interpreter), rather than
# in a preexec_fn after fork: a library's at-fork handler that starts a thread in the child (wandb's
# does) makes unshare(CLONE_NEWUSER) fail there with EINVAL.
_HOLDER = ("import ctypes, os, sys\n"
           "libc = ctypes.CDLL(None, use_errno=True)\n"
           "if libc.unshare(%d) != 0:\n"
           "    sys.stdout.write('errno %%d' %% ctypes.get_errno()); sys.stdout.flush(); sys.exit(1)\n"
           "sys.stdout.write('ready'); sys.stdout.flush()\n"
           "os.read(0, 1)\n")


@functools.lru_cache(maxsize=1)
def _root_user_namespace() -> int:
    """A user namespace mapping only root and nobody (to themselves), held open by a descriptor."""
    holder = subprocess.Popen([sys.executable, "-I", "-S", "-c", _HOLDER % _CLONE_NEWUSER],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        said = os.read(holder.stdout.fileno(), 64).decode("ascii", "replace")
        if said != "ready":
            raise IsolationUnavailable(f"the kernel refused a user namespace (unshare: {said or 'no answer'}): "
                                       "isolated execution needs user namespaces (sysctl user.max_user_namespaces > 0)")
        for name in ("uid_map", "gid_map"):
            with open(f"/proc/{holder.pid}/{name}", "w") as f:
                f.write(f"0 0 1\n{_NOBODY} {_NOBODY} 1\n")
        return os.open(f"/proc/{holder.pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        holder.stdin.close()
        holder.stdout.close()
        holder.wait()


def command(worker_args: Sequence[str], seccomp_fd: int, scratch_mb: int, extra_binds: Sequence[str]) -> Tuple[List[str], List[int]]:
    """The bubblewrap command line for a worker, and the descriptors it must inherit."""
    args = [bwrap_path()]
    fds = [seccomp_fd]
    if os.geteuid() == 0:
        with _ROOT_NAMESPACE_LOCK:
            userns = _root_user_namespace()
        fds.append(userns)
        args += ["--userns", str(userns), "--cap-drop", "ALL", "--cap-add", "CAP_SETUID",
                 "--cap-add", "CAP_SETGID"]
    else:
        args += ["--unshare-user", "--uid", str(_NOBODY), "--gid", str(_NOBODY)]
    args += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
             "--die-with-parent", "--new-session", "--clearenv", "--as-pid-1", "--seccomp", str(seccomp_fd)]
    binds = _interpreter() + [arg for path in extra_binds for arg in ("--ro-bind", path, path)]
    for name in ("_worker.py", "wire.py"):
        binds += ["--ro-bind", str(_HERE / name), f"{WORKER_DIR}/{name}"]
    args += _system_layout() + _open_parents(binds) + binds
    args += ["--dev", "/dev", "--perms", "1777", "--size", str(scratch_mb * 1024 * 1024), "--tmpfs", SCRATCH,
             "--chdir", SCRATCH, "--", os.path.realpath(sys.executable), "-I", "-S", "-B",
             f"{WORKER_DIR}/_worker.py", *worker_args]
    return args, fds


def seccomp_pipe() -> int:
    """A pipe's read end holding the worker filter, for `bwrap --seccomp`."""
    try:
        program = worker_filter()
    except SeccompUnavailable as exc:
        raise IsolationUnavailable(str(exc)) from None
    read_fd, write_fd = os.pipe()
    try:
        os.write(write_fd, program)  # a few hundred bytes: fits the pipe's buffer
    finally:
        os.close(write_fd)
    return read_fd
