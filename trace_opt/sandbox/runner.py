"""Run a candidate function: statically checked, then in a separate, limited process.

The child is `python -I -S` (no site-packages, no PYTHON* variables, no user dir), in a fresh
temp dir, with an empty environment and rlimits on memory, CPU, processes, file size and open
files. Arguments and the return value travel as JSON (plain data only; pickle could run code
on load). A candidate's misbehaviour never raises here: it becomes `ok=False` and a reason.
"""
from __future__ import annotations

import functools
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .policy import DEFAULT_POLICY, Policy
from .static import check

_CHILD = (Path(__file__).with_name("_child.py")).read_text()
_NOBODY = 65534
# Nothing inherited: no API keys, no proxies, no PYTHONPATH.
_ENV = {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"}


@dataclass
class SandboxResult:
    """What a candidate run gave: `value` when `ok`, else `error` says why it was rejected."""

    ok: bool
    value: Any = None
    error: str | None = None
    stdout: str = ""
    stderr: str = ""
    duration_s: float = 0.0


def run(code: str, func_name: str, args=(), kwargs=None, timeout: float = 10.0,
        memory_mb: int = 1024, policy: Policy | None = None) -> SandboxResult:
    """Check `code`, then call `func_name(*args, **kwargs)` in an isolated process."""
    policy = policy or DEFAULT_POLICY
    start = time.perf_counter()
    if policy.check_static:
        violations = check(code, func_name, policy)
        if violations:
            return SandboxResult(False, error="rejected: " + "; ".join(violations))
    try:
        request = json.dumps({
            "code": code, "func_name": func_name, "args": list(args), "kwargs": dict(kwargs or {}),
            "memory_mb": int(memory_mb), "cpu_s": max(1, math.ceil(timeout) + 1),
            "allowed_modules": sorted(policy.allowed_modules),
            "forbidden_names": sorted(policy.forbidden_names), "allow_write": policy.allow_write,
            "recursion_limit": policy.recursion_limit, "max_open_files": policy.max_open_files,
            "max_output_chars": policy.max_output_chars,
        })
    except (TypeError, ValueError) as e:
        return SandboxResult(False, error=f"rejected: arguments are not JSON-serializable: {e}")
    workdir = tempfile.mkdtemp(prefix="trace_opt_sandbox_")
    try:
        return _run_child(request, workdir, timeout, memory_mb, start)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _become_nobody() -> None:
    os.setgroups([])
    os.setgid(_NOBODY)
    os.setuid(_NOBODY)


@functools.lru_cache(maxsize=1)
def _privilege_drop() -> Any:
    """As root, RLIMIT_NPROC does not stop fork and every file is writable: become nobody,
    when nobody can start the interpreter here (a pyenv under /root cannot; then the static
    check and the child's disarmed `os` are what stop a fork)."""
    if os.geteuid() != 0:
        return None
    try:
        subprocess.run([sys.executable, "-I", "-S", "-c", "pass"], env=dict(_ENV), cwd="/",
                       preexec_fn=_become_nobody, check=True, capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return _become_nobody


def _run_child(request: str, workdir: str, timeout: float, memory_mb: int, start: float) -> SandboxResult:
    if _privilege_drop():
        os.chmod(workdir, 0o777)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _CHILD], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=workdir, env=dict(_ENV),
            start_new_session=True, preexec_fn=_privilege_drop(), text=True,
        )
    except OSError as e:
        return SandboxResult(False, error=f"the sandbox process could not start: {e}")
    try:
        out, err = proc.communicate(request, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        proc.communicate()
        return SandboxResult(False, error=f"timeout: still running after {timeout:g} s, killed",
                             duration_s=time.perf_counter() - start)
    finally:
        _kill_group(proc)  # anything the candidate left behind in its group
    duration = time.perf_counter() - start
    try:
        data = json.loads(out)
    except ValueError:
        return SandboxResult(False, error=_death_reason(proc.returncode, memory_mb),
                             stderr=err[-2000:], duration_s=duration)
    return SandboxResult(bool(data["ok"]), data.get("value"), data.get("error"),
                         data.get("stdout", ""), data.get("stderr", ""), duration)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _death_reason(code: int | None, memory_mb: int) -> str:
    """Why the child ended without a result, in words."""
    if code is not None and code < 0:
        name = signal.Signals(-code).name
        hint = {"SIGXCPU": "CPU time limit exceeded", "SIGKILL": f"killed (memory limit {memory_mb} MB?)",
                "SIGSEGV": "crashed (segmentation fault)"}.get(name, "killed")
        return f"the sandbox process died on {name}: {hint}"
    return f"the sandbox process exited with status {code} without a result"
