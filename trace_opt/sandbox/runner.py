"""`run`: check a candidate function statically, then call it once in an isolated worker.

Arguments and the value travel as plain data (see wire.py); the worker is one of the pool's,
loaded with exactly this code and limits (see function.py). A candidate's misbehaviour never
raises here: it becomes `ok=False` and a reason. Isolation that is not available raises
`IsolationUnavailable`, which says what to install.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from .function import IsolatedFunction
from .policy import DEFAULT_POLICY, Policy
from .static import check
from .worker import CallFailed


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
    """Check `code`, then call `func_name(*args, **kwargs)` in an isolated worker."""
    policy = policy or DEFAULT_POLICY
    start = time.perf_counter()
    if not isinstance(code, str) or not isinstance(func_name, str):
        raise TypeError(f"sandbox.run needs code and func_name as str, got {type(code).__name__}, "
                        f"{type(func_name).__name__}")
    if policy.check_static:
        violations = check(code, func_name, policy)
        if violations:
            return SandboxResult(False, error="rejected: " + "; ".join(violations))
    function = IsolatedFunction(code, func_name, policy, timeout, memory_mb, filename="<candidate>")
    try:
        result = function.call(args, kwargs)
    except CallFailed as exc:
        message = str(exc)
        if message.startswith("the arguments"):
            message = "rejected: " + message
        return SandboxResult(False, error=message, duration_s=time.perf_counter() - start)
    return SandboxResult(result["ok"], result["value"] if result["ok"] else None, result.get("error"),
                         result.get("stdout") or "", result.get("stderr") or "", time.perf_counter() - start)
