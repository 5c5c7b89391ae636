"""Trace's helpers: ``contain`` (membership by identity), ``for_all_methods``, ``sum_feedback``."""
from __future__ import annotations

import inspect
from typing import Any, Callable, Iterable, List

from ....graph.feedback import FeedbackRecord
from ....graph.nodes import Node


def contain(container: Iterable[Any], x: Any) -> bool:
    """Whether ``x`` itself is in ``container`` (nodes compare as nodes under ==, so by identity)."""
    return any(item is x for item in container)


def for_all_methods(decorator: Callable) -> Callable[[type], type]:
    """A class decorator applying ``decorator`` to every method the class defines."""
    def decorate(cls: type) -> type:
        for name, attr in list(vars(cls).items()):
            if callable(attr) and not name.startswith("__") and not inspect.isclass(attr):
                setattr(cls, name, decorator(attr))
        return cls
    return decorate


class TraceGraph:
    """The feedback that reached some nodes, merged: ``graph`` as (depth, node) pairs, parents first,
    ``user_feedback`` the texts joined; ``visualize()`` draws it, ``expand(node)`` opens a bundle
    traced with ``traceable_code``."""

    def __init__(self, records: List[FeedbackRecord]) -> None:
        self.records = records
        pairs = {id(n): (d, n) for record in records for d, n in record.graph}
        self.graph = sorted(pairs.values(), key=lambda pair: pair[0])
        self.user_feedback = "\n".join(dict.fromkeys(record.user_feedback for record in records))

    def visualize(self) -> Any:
        from ....graph.export import digraph

        outputs = list({id(r.output): r.output for r in self.records}.values())
        return digraph(outputs[0]) if outputs else None

    def expand(self, node: Node) -> "TraceGraph":
        inner = (node.info or {}).get("output")
        if inner is None:
            raise ValueError(f"{node.name} is not a bundle traced with traceable_code=True: nothing to expand")
        from ....graph.traversal import leveled, topological_order

        expanded = TraceGraph([])
        expanded.graph = leveled(topological_order([inner]))
        expanded.user_feedback = self.user_feedback
        return expanded


def sum_feedback(nodes: Iterable[Node]) -> TraceGraph:
    """The feedback that reached ``nodes`` (parameters), merged into one graph."""
    return TraceGraph([record for n in nodes for record in getattr(n, "feedback", [])])


__all__ = ["TraceGraph", "contain", "for_all_methods", "sum_feedback"]
