"""Trace's ``OptoPrime`` (its constructor and habits) over trace_opt's OptoPrime."""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Optional

from ....graph.feedback import FeedbackRecord
from ....graph.nodes import MessageNode
from ....optim.llm.optoprime import OptoPrime as _OptoPrime
from ....optim.report import StepReport
from .optimizer import TraceShape


class OptoPrime(TraceShape, _OptoPrime):
    """``OptoPrime(parameters, llm=None, ...)``: Trace's arguments are accepted; those trace_opt
    does differently (prompt symbols, extraction, autogen filters) are ignored. ``step(verbose=True)``
    prints what changed, ``log`` keeps one entry per step, ``summarize()`` is the problem text."""

    def __init__(self, parameters: Any, llm: Any = None, *args: Any, propagator: Any = None,
                 objective: Optional[str] = None, memory_size: int = 0, max_tokens: Optional[int] = None,
                 log: bool = True, **ignored: Any) -> None:
        client = getattr(llm, "client", llm)  # a compat LLM wraps a trace_opt client
        _OptoPrime.__init__(self, list(parameters), client, objective=objective, memory_size=memory_size,
                            max_prompt_tokens=max_tokens if max_tokens and max_tokens >= 200 else None)
        self._propagator = propagator
        self.log = []

    def step(self, *args: Any, verbose: Any = False, **kwargs: Any) -> StepReport:
        return self.remember(_OptoPrime.step(self, kwargs.get("evaluate")), verbose)

    def summarize(self) -> str:
        """The problem the LLM is shown at the next step (code, variables, inputs, feedback)."""
        messages, _ = self.build_prompt(self.parameters(), [])
        return messages[-1]["content"]


def node_to_function_feedback(record: FeedbackRecord) -> Any:
    """Trace's function-shaped view of one feedback record: graph, roots, others, documentation,
    output and user feedback."""
    nodes = record.subgraph()
    in_graph = set(nodes)
    roots = {n.name: (n.data, getattr(n, "constraint", None)) for n in nodes
             if not any(p in in_graph for p in n.parents)}
    documentation = {n.name: n.description for n in nodes if isinstance(n, MessageNode)}
    others = {n.name: (n.data, None) for n in nodes if n.name not in roots and n is not record.output}
    return SimpleNamespace(graph=record.graph, roots=roots, others=others, documentation=documentation,
                           output={record.output.name: (record.output.data, None)},
                           user_feedback=record.user_feedback)


__all__ = ["OptoPrime", "node_to_function_feedback"]
