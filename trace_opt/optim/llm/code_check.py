"""Proposed code is run on the inputs it will meet before it is accepted.

A code parameter's calls in this step's trace record their inputs (and, for methods, the
instance), so a candidate can be compiled and called on exactly those inputs: one that
raises is rejected with the error as its reason, instead of breaking the next run.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from ...graph import BoundBundle, Bundle, MessageNode, Parameter, linking_subgraph, no_trace
from .tokens import truncate

MAX_TRIALS = 3


def recorded_calls(param: Parameter) -> List[Tuple[Any, Dict[str, Any]]]:
    """(op, keyword inputs) of the calls that ran ``param``'s code in the traces its feedback came from."""
    calls = []
    outputs = [record.output for record in param.feedback]
    for current in linking_subgraph(outputs, [param]):
        if not isinstance(current, MessageNode) or not isinstance(current.op, (Bundle, BoundBundle)):
            continue
        inputs = current.inputs
        if inputs.get("__code") is not param or any("[" in name for name in inputs):
            continue  # var-args and unwrapped lists cannot be replayed by name
        calls.append((current.op, {name: node.data for name, node in inputs.items() if name != "__code"}))
        if len(calls) == MAX_TRIALS:
            break
    return calls


def trial_error(code: str, calls: List[Tuple[Any, Dict[str, Any]]]) -> Optional[str]:
    """Why ``code`` fails on the recorded calls, or None when it runs on all of them."""
    for op, inputs in calls:
        bundle = op.bundle if isinstance(op, BoundBundle) else op
        leading = (op.instance,) if isinstance(op, BoundBundle) else ()
        try:
            function = bundle.compile(code)
            with no_trace():
                function(*leading, **inputs)
        except Exception as exc:  # the candidate's own failure, reported, never raised
            return f"raised {type(exc).__name__}: {truncate(str(exc), 200)} on the inputs of this step"
    return None
