"""Execution of code proposed by an LLM, isolated by the kernel (stdlib only; imports nothing of trace_opt).

`check` is the static policy check: a fast pre-filter that tells the LLM what it may not use,
not a boundary. The boundary is the worker process (isolation.py: bubblewrap's namespaces,
seccomp, rlimits, a scratch tmpfs, no environment) that every untrusted call runs in:
`IsolatedFunction` calls code there with plain-data arguments, `run` checks and calls once.
`run_trusted` is the explicit in-process opt-out for code the user wrote. `bounded_json.loads`
is the parser for any untrusted JSON text. See `Policy.widen` to allow more.
"""
from .bounded_json import loads as bounded_loads
from .function import CandidateRaised, IsolatedFunction, Surface
from .isolation import IsolationUnavailable
from .policy import DEFAULT_POLICY, Policy
from .runner import SandboxResult, run
from .static import check
from .trusted import run_trusted
from .worker import CallFailed

__all__ = ["CallFailed", "CandidateRaised", "DEFAULT_POLICY", "IsolatedFunction", "IsolationUnavailable",
           "Policy", "SandboxResult", "Surface", "bounded_loads", "check", "run", "run_trusted"]
