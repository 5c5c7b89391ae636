"""Trace's node names: ``node``, ``Node``, ``ParameterNode``, ``MessageNode``, ``ExceptionNode``, ``GRAPH``.

Importing this turns on ``node.children`` (noted weakly, so a graph still lives only as long as its
output is held); ``GRAPH.clear()`` has nothing to clear: trace_opt keeps no global graph.
"""
from __future__ import annotations

from typing import Any, Optional

from ....graph import context
from ....graph.nodes import ExceptionNode, MessageNode, Node, Parameter
from ....graph.nodes import node as _node
from ....graph.nodes import track_children

ParameterNode = Parameter
track_children()  # Trace's node.children: noted weakly from here on


def node(data: Any, name: Optional[str] = None, trainable: bool = False, description: Optional[str] = None,
         constraint: Optional[str] = None, info: Any = None) -> Node:
    """Trace's ``node``: a node stays itself unless made trainable, which wraps its value anew; the
    description reads as Trace writes it (``[Node] ...``, ``[ParameterNode] ...``)."""
    if isinstance(data, Node):
        if not trainable:
            return data
        data = data.data
    kind = "ParameterNode" if trainable else "Node"
    described = f"[{kind}] {description or f'This is a {kind} in a computational graph.'}"
    if description is None and not trainable:
        described = "[Node] This is a node in a computational graph."
    if trainable:
        return Parameter(data, name, description=described, constraint=constraint)
    return _node(data, name, described)


class _Graph:
    """Trace's global graph, reduced to what is left of it: the tracing switch."""

    def clear(self) -> None:
        """Nothing to clear: trace_opt holds no global registry of nodes."""

    @property
    def TRACE(self) -> bool:  # noqa: N802 - Trace's name
        return context.is_tracing()

    @TRACE.setter
    def TRACE(self, value: bool) -> None:  # noqa: N802
        context._tracing.set(bool(value))


GRAPH = _Graph()

__all__ = ["GRAPH", "ExceptionNode", "MessageNode", "Node", "ParameterNode", "node"]
