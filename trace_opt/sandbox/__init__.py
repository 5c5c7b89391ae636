"""Isolated execution of code proposed by an LLM (stdlib only; imports nothing of trace_opt).

`run` checks the code statically, then calls the function in a separate, limited process;
`run_trusted` is the explicit in-process opt-out. See `Policy.widen` to allow more.
"""
from .policy import DEFAULT_POLICY, Policy
from .runner import SandboxResult, run
from .static import check
from .trusted import run_trusted

__all__ = ["DEFAULT_POLICY", "Policy", "SandboxResult", "check", "run", "run_trusted"]
