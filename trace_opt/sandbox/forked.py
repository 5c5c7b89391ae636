"""Run a candidate in a forked, limited child: for code that needs this process's objects.

A method's instance, the helpers of the module it lives in and the inputs a step recorded
are not plain data, so the fresh-interpreter runner cannot take them; a fork inherits them.
The child leaves the parent's session, empties its environment (no API keys), works in a
temp dir, and runs under the same rlimits, restricted builtins and disarmed `os` as the
fresh runner; only a small JSON verdict comes back over a pipe. The parent waits at most
`timeout` seconds, then kills the child's whole process group.
"""
from __future__ import annotations

import json
import os
import select
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
_VERDICT_LIMIT = 64 * 1024


def run_forked(call: Callable[[dict], Any], timeout: float = 10.0, memory_mb: int = 1024,
               policy: Policy | None = None, source: str = "<") -> SandboxResult:
    """Run `call(builtins)` in a forked child; `builtins` is the restricted mapping the caller
    gives the candidate's globals. `memory_mb` is allowed on top of what is mapped already.
    `source` starts the file names of the candidate's code (for line numbers in errors).
    The value `call` returns stays in the child; `ok` says whether it returned."""
    policy = policy or DEFAULT_POLICY
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
    if pid == 0:  # pragma: no cover - the child; it never returns
        os.close(read_fd)
        _child_main(call, write_fd, workdir, timeout, memory_mb, policy, source)
    os.close(write_fd)
    try:
        verdict, status = _collect(pid, read_fd, timeout)
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
    while True:
        left = deadline - time.monotonic()
        ready = select.select([fd], [], [], max(0.0, left))[0] if left > 0 else []
        if not ready:
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
    """Limit this forked process, run `call`, write the verdict, and leave without cleanup."""
    exit_now, write = os._exit, os.write  # `os` is disarmed below
    verdict = {"ok": False, "error": "the sandbox child failed before running the candidate"}
    try:
        os.setsid()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        os.chdir(workdir)
        os.environ.clear()
        _single_threaded_libraries()
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
            data = json.dumps(verdict).encode()[:_VERDICT_LIMIT]
            while data:
                data = data[write(fd, data):]
        finally:
            exit_now(0)


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
