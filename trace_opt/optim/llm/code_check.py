"""Proposed code is checked and run on the inputs it will meet before it is accepted.

Code an LLM wrote was written by nobody. A candidate first passes the sandbox's static policy
(a fast pre-filter whose reasons help the LLM, not a boundary), then runs on the inputs that
this step's trace recorded in an isolated worker (graph/isolated.py: the same kind of worker,
the same surface, that every later call of accepted code gets): one that raises, loops, eats
memory or breaks the policy is rejected with the reason, which becomes feedback.
``CodeTrial(trusted=True)`` is the explicit opt-out: the candidate then runs in this process, as
Trace does.
"""
from __future__ import annotations

import ast
import asyncio
import inspect
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from ...graph import BoundBundle, Bundle, MessageNode, Parameter, linking_subgraph, no_trace
from ...graph.bundle import EXTERNAL
from ...graph.isolated import IsolatedCode, IsolatedCodeError
from ...sandbox import DEFAULT_POLICY, IsolationUnavailable, Policy, check
from ...llm.errors import redact
from ..feedback import feedback_records
from .tokens import elide

MAX_TRIALS = 3


@dataclass(frozen=True)
class CodeTrial:
    """How candidate code is vetted: the policy it must keep (widen it to allow more modules),
    the limits of its trial run, or ``trusted=True`` to run it in-process unchecked."""

    policy: Policy = DEFAULT_POLICY
    timeout: float = 10.0
    memory_mb: int = 1024
    trusted: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.policy, Policy):
            raise TypeError(f"CodeTrial.policy must be a trace_opt.sandbox.Policy, got {type(self.policy).__name__}")
        if not self.timeout > 0 or not self.memory_mb > 0:
            raise ValueError(f"CodeTrial needs timeout > 0 and memory_mb > 0, got {self.timeout!r}, {self.memory_mb!r}")


def recorded_calls(param: Parameter) -> List[Tuple[Any, Dict[str, Any]]]:
    """(op, keyword inputs) of the calls that ran ``param``'s code in the traces its feedback came from."""
    calls = []
    outputs = [record.output for record in feedback_records([param])]
    for current in linking_subgraph(outputs, [param]):
        if not isinstance(current, MessageNode) or not isinstance(current.op, (Bundle, BoundBundle)):
            continue
        inputs = current.inputs
        if inputs.get("__code") is not param or any("[" in name for name in inputs):
            continue  # var-args and unwrapped lists cannot be replayed by name
        calls.append((current.op, {name: node.data for name, node in inputs.items()
                                   if name != "__code" and not name.startswith(EXTERNAL)}))
        if len(calls) == MAX_TRIALS:
            break
    return calls


def trial_error(code: str, calls: List[Tuple[Any, Dict[str, Any]]], trial: CodeTrial = CodeTrial()) -> Optional[str]:
    """Why ``code`` is rejected (policy or its run on the recorded calls), or None when accepted."""
    if not trial.trusted and trial.policy.check_static:
        context, home = _reachable(calls)
        violations = check(code, _defined_name(code), trial.policy, context=context, home=home)
        if violations:
            return "; ".join(violations)
    if not calls:
        return None
    runner = None if trial.trusted else IsolatedCode(trial.policy, trial.timeout, trial.memory_mb)
    try:
        for op, inputs in calls:
            bundle = op.bundle if isinstance(op, BoundBundle) else op
            bound = isinstance(op, BoundBundle)
            leading = (op.instance,) if bound else ()
            function = (bundle.compile(code) if runner is None
                        else runner.compile(bundle, code, bound, bundle.code_filename(code)))
            with no_trace():
                result = function(*leading, **inputs)
                if inspect.isawaitable(result):  # an async function, trusted: run it to its end here
                    asyncio.run(_awaited(result))
    except IsolatedCodeError as exc:  # the candidate's failure in its worker, in its own words
        error = elide(redact(str(exc) if exc.error_type == "IsolatedCodeError" else f"{exc.error_type}: {exc}"), 240)
        if error.startswith(("timeout", "the isolated worker", "the arguments")):
            return error
        return f"raised {error} on the inputs of this step"
    except (Exception, SystemExit) as exc:  # trusted, in-process: reported, never raised
        if isinstance(exc, IsolationUnavailable):
            raise
        return f"raised {type(exc).__name__}: {elide(redact(str(exc)), 200)} on the inputs of this step"
    return None


async def _awaited(result: Any) -> Any:
    return await result


def _reachable(calls: List[Tuple[Any, Dict[str, Any]]]) -> Tuple[Optional[Dict[str, Any]], List[str]]:
    """The names a candidate sees besides its own (its function's module globals and closure),
    and that module: the static check refuses roads from there to modules not allowed."""
    if not calls:
        return None, []
    op = calls[0][0]
    bundle = op.bundle if isinstance(op, BoundBundle) else op
    fn = bundle.fn
    context = {**getattr(fn, "__globals__", {}), **bundle.closure_values()}
    return context, [getattr(fn, "__module__", None) or "__main__"]


def _defined_name(code: str) -> str:
    """The name of the function the code defines (its signature was checked before)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return ""
    return next((n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))), "")
