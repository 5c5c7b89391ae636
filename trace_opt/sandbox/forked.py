"""Run a candidate in a forked, limited child: for code that needs this process's objects.

A method's instance, the helpers of the module it lives in and the inputs a step recorded
are not plain data, so the fresh-interpreter runner cannot take them; a fork inherits them.
The child leaves the parent's session, keeps no inherited file descriptor but its verdict
pipe, empties its environment, works in a temp dir, volunteers first for the OOM killer,
gets a network namespace of its own where the kernel allows (no network), drops to `nobody`
when it runs as root, and runs under the same rlimits, restricted builtins and disarmed
`os` as the fresh runner. Only a small JSON verdict comes back over the pipe; the parent
waits at most `timeout` seconds, then kills the child's whole process group.
"""
from __future__ import annotations

import ctypes
import functools
import importlib
import json
import os
import resource
import selectors
import shutil
import signal
import sys
import tempfile
import time
import warnings
from typing import Any, Callable

from . import _child
from .policy import DEFAULT_POLICY, Policy
from .runner import SandboxResult, _death_reason

MB = 1024 * 1024
_VERDICT_LIMIT = 256 * 1024
_CAPTURED_CHARS = 2000  # of each output stream and of the error, in the verdict
_NOBODY = 65534
_CLONE_NEWUSER, _CLONE_NEWNET = 0x10000000, 0x40000000
_PR_SET_DUMPABLE = 4


def run_forked(call: Callable[[dict], Any], timeout: float = 10.0, memory_mb: int = 1024,
               policy: Policy | None = None, source: str = "<") -> SandboxResult:
    """Run `call(builtins)` in a forked child; `builtins` is the restricted mapping the caller
    gives the candidate's globals. `memory_mb` is allowed on top of what is mapped already.
    `source` starts the file names of the candidate's code (for line numbers in errors).
    The value `call` returns stays in the child; `ok` says whether it returned."""
    policy = policy or DEFAULT_POLICY
    _preload(policy.allowed_modules)  # the child may not be able to read the stdlib once it is nobody
    workdir = tempfile.mkdtemp(prefix="trace_opt_sandbox_")
    read_fd, write_fd = os.pipe()
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():  # fork of a threaded process: the child runs no other thread
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
    except OSError as e:
        os.close(read_fd)
        os.close(write_fd)
        shutil.rmtree(workdir, ignore_errors=True)
        return SandboxResult(False, error=f"the sandbox process could not start: {e}")
    if pid == 0:  # pragma: no cover - the child: whatever happens, it never returns into the caller
        try:
            os.close(read_fd)
            _child_main(call, write_fd, workdir, timeout, memory_mb, policy, source)
        finally:
            os._exit(1)
    os.close(write_fd)
    try:
        verdict, status = _collect(pid, read_fd, timeout)
    except BaseException:  # interrupted while waiting: the child must not outlive the call
        _kill(pid)
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:  # already reaped when the interruption came
            pass
        raise
    finally:
        os.close(read_fd)
        shutil.rmtree(workdir, ignore_errors=True)
    duration = time.perf_counter() - start
    if verdict is None and status is None:
        return SandboxResult(False, error=f"timeout: still running after {timeout:g} s, killed",
                             duration_s=duration)
    if verdict is None:
        return SandboxResult(False, error=_death_reason(os.waitstatus_to_exitcode(status), memory_mb),
                             duration_s=duration)
    return SandboxResult(bool(verdict["ok"]), None, verdict.get("error"), verdict.get("stdout", ""),
                         verdict.get("stderr", ""), duration)


def _collect(pid: int, fd: int, timeout: float):
    """(verdict, wait status): (None, None) on timeout, (None, status) if it died silently."""
    deadline = time.monotonic() + timeout
    chunks, size = [], 0
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(left):
                _kill(pid)
                os.waitpid(pid, 0)
                return None, None
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            size += len(chunk)
            if size <= _VERDICT_LIMIT:
                chunks.append(chunk)
    _kill(pid)  # anything it left behind in its group
    _, status = os.waitpid(pid, 0)
    try:
        return json.loads(b"".join(chunks)), status
    except ValueError:
        return None, status


def _kill(pid: int) -> None:
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _mapped_mb() -> int:
    """The address space this process already holds (the fork inherits all of it)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[0])
        return pages * os.sysconf("SC_PAGE_SIZE") // MB
    except (OSError, ValueError):
        return 0


def _open_files() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 256


def _child_main(call, fd, workdir, timeout, memory_mb, policy, source):  # pragma: no cover - child
    """Isolate and limit this forked process, run `call`, write the verdict, leave without cleanup."""
    exit_now, write = os._exit, os.write  # `os` is disarmed below
    verdict = {"ok": False, "error": "the sandbox child failed before running the candidate"}
    try:
        os.setsid()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        _keep_only(fd)
        os.environ.clear()
        _single_threaded_libraries()
        _isolate(workdir)
        os.chdir(workdir)
        req = {
            "memory_mb": _mapped_mb() + int(memory_mb), "cpu_s": max(1, int(timeout) + 1),
            "allowed_modules": sorted(policy.allowed_modules), "allow_write": policy.allow_write,
            "forbidden_names": sorted(policy.forbidden_names),
            "recursion_limit": policy.recursion_limit + len(_stack()),
            "max_open_files": _open_files() + policy.max_open_files,
        }
        safe = _child._safe_builtins(req, os.path.realpath(workdir))
        out, err = _child._Capped(policy.max_output_chars), _child._Capped(policy.max_output_chars)
        _child._apply_limits(req)
        _child._disarm_os()
        sys.stdout, sys.stderr = out, err

        def run_and_drop_value():
            call(safe)  # the value stays here: only whether the call returned matters

        wording = {**req, "memory_mb": memory_mb, "recursion_limit": policy.recursion_limit}
        result = _child.outcome(run_and_drop_value, wording, source)
        verdict = {"ok": result["ok"], "error": result["error"], "stdout": out.text(), "stderr": err.text()}
    except BaseException as e:
        verdict["error"] = f"{verdict['error']}: {type(e).__name__}: {e}"
    finally:
        try:
            for key in ("error", "stdout", "stderr"):
                if isinstance(verdict.get(key), str):
                    verdict[key] = verdict[key][:_CAPTURED_CHARS]
            data = json.dumps(verdict).encode()
            while data:
                data = data[write(fd, data):]
        finally:
            exit_now(0)


def _keep_only(fd: int) -> None:  # pragma: no cover - child
    """Close every inherited descriptor (the parent's sockets, logs, other trials' pipes) but
    the verdict pipe; 0, 1 and 2 point at /dev/null."""
    null = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):
        if null != target:
            os.dup2(null, target)
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    limit = limit if 0 < limit < (1 << 20) else (1 << 20)
    os.closerange(3, fd)
    os.closerange(fd + 1, limit)


def _isolate(workdir: str) -> None:  # pragma: no cover - child
    """Give up what a candidate could abuse: first in line for the OOM killer, no network (a
    namespace of its own, where the kernel allows), `nobody` instead of root (where nobody can
    still read the standard library: libraries import parts of it lazily), and its /proc
    entries (the original environment among them) unreadable to itself."""
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        pass
    root = os.geteuid() == 0
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.unshare(_CLONE_NEWNET if root else _CLONE_NEWUSER | _CLONE_NEWNET)
        libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if root and _stdlib_open_to_all():
        os.chown(workdir, _NOBODY, _NOBODY)
        os.setgroups([])
        os.setgid(_NOBODY)
        os.setuid(_NOBODY)


@functools.lru_cache(maxsize=1)
def _stdlib_open_to_all() -> bool:
    """Whether every directory down to the standard library lets others in (a Python under
    /root does not)."""
    path = os.path.dirname(os.path.realpath(os.__file__))
    while True:
        try:
            if not os.stat(path).st_mode & 0o005 == 0o005:
                return False
        except OSError:
            return False
        parent = os.path.dirname(path)
        if parent == path:
            return True
        path = parent


@functools.lru_cache(maxsize=None)
def _preload_once(modules: frozenset) -> None:
    for name in sorted(modules):
        try:
            importlib.import_module(name)
        except Exception:  # not installed: the candidate's import fails with its own message
            pass


def _preload(modules) -> None:
    _preload_once(frozenset(modules))


def _single_threaded_libraries() -> None:  # pragma: no cover - child
    """A fork keeps none of the parent's worker threads: a thread pool the parent started (torch's
    OpenMP) would wait for them forever, so libraries already loaded run on this thread alone."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def _stack() -> list:
    """The frames already on the stack: the candidate's recursion limit counts from here."""
    frames, frame = [], sys._getframe()
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    return frames
