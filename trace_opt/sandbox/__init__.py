"""Isolated execution of code proposed by an LLM (stdlib only; imports nothing of trace_opt).

`check` is the static policy check; `run` checks, then calls the function in a fresh, limited
interpreter (plain-data arguments); `run_forked` calls it in a forked, limited child, for calls
that need this process's objects (a method's instance); `run_trusted` is the explicit
in-process opt-out; `host_builtins` keeps the policy's limits on accepted code that runs in
this process. See `Policy.widen` to allow more.
"""
from .forked import run_forked
from .host import host_builtins
from .policy import DEFAULT_POLICY, Policy
from .runner import SandboxResult, run
from .static import check
from .trusted import run_trusted

__all__ = ["DEFAULT_POLICY", "Policy", "SandboxResult", "check", "host_builtins", "run", "run_forked", "run_trusted"]
