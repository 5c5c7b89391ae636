"""Trace's parameter containers: ``NodeContainer``, ``Seq`` (a list) and ``Map`` (a dict) that
list the trainable nodes they hold, at any nesting (keys of a Map included)."""
from __future__ import annotations

from typing import Any, List

from ....graph.module import Module as _Module
from ....graph.nodes import Parameter


def _parameters(value: Any, found: List[Parameter], seen: set) -> None:
    stack = [value]
    while stack:
        current = stack.pop()
        if isinstance(current, Parameter):
            if current.trainable and id(current) not in seen:
                seen.add(id(current))
                found.append(current)
        elif isinstance(current, _Module):
            for p in current.parameters():
                if id(p) not in seen:
                    seen.add(id(p))
                    found.append(p)
        elif isinstance(current, dict):
            stack.extend(reversed([item for pair in current.items() for item in pair]))
        elif isinstance(current, (list, tuple, set)):
            stack.extend(reversed(list(current)))
        elif isinstance(current, NodeContainer):
            stack.extend(reversed(list(vars(current).values())))


class NodeContainer:
    """A plain object whose attributes hold nodes (``apply_op`` walks them)."""

    def parameters(self) -> List[Parameter]:
        found: List[Parameter] = []
        _parameters(list(vars(self).values()), found, set())
        return found


class Seq(list, NodeContainer):
    """``Seq([1, node(2)])`` or ``Seq(1, node(2))``: a list that lists its parameters."""

    def __init__(self, *items: Any) -> None:
        super().__init__(items[0] if len(items) == 1 and isinstance(items[0], (list, tuple)) else items)

    def parameters(self) -> List[Parameter]:
        found: List[Parameter] = []
        _parameters(list(self), found, set())
        return found


class Map(dict, NodeContainer):
    """A dict that lists its parameters (keys and values)."""

    def parameters(self) -> List[Parameter]:
        found: List[Parameter] = []
        _parameters(dict(self), found, set())
        return found


__all__ = ["Map", "NodeContainer", "Seq"]
