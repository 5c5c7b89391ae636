"""In-process execution: the explicit opt-out from isolation, for code the user trusts.

No static check, no separate process, real builtins: `timeout` and `memory_mb` are not
enforced (they are accepted so that the two runners are interchangeable). Only exceptions
from the candidate are caught; use this only for code you wrote or reviewed.
"""
from __future__ import annotations

import contextlib
import io
import time

from .policy import Policy
from .runner import SandboxResult


def run_trusted(code: str, func_name: str, args=(), kwargs=None, timeout: float = 10.0,
                memory_mb: int = 1024, policy: Policy | None = None) -> SandboxResult:
    """Call `func_name(*args, **kwargs)` from `code` in this process, capturing its output."""
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    namespace: dict = {"__name__": "candidate"}
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            exec(compile(code, "<candidate>", "exec"), namespace)
            func = namespace.get(func_name)
            if not callable(func):
                raise NameError(f"the code does not define a function named {func_name}")
            value = func(*args, **(kwargs or {}))
    except (Exception, SystemExit) as e:
        return SandboxResult(False, error=f"{type(e).__name__}: {e}", stdout=out.getvalue(),
                             stderr=err.getvalue(), duration_s=time.perf_counter() - start)
    return SandboxResult(True, value, None, out.getvalue(), err.getvalue(), time.perf_counter() - start)
