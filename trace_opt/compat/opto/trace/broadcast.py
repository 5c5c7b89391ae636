"""Trace's ``apply_op``: an operator applied across matching containers of nodes, into ``output``."""
from __future__ import annotations

from typing import Any, Callable, List

from ....graph.nodes import Node
from .containers import NodeContainer


def apply_op(op: Callable, output: Any, *args: Any, **kwargs: Any) -> Any:
    """Walk the inputs together: where they hold lists, dicts or NodeContainers, go inside (the
    first such input gives the shape) and write into ``output`` there; where they hold nodes,
    put ``op`` of them. A plain value among nodes is passed as it is; where the inputs hold only
    plain values, the output keeps its own."""
    names = list(kwargs)
    count = len(args)

    def call(items: List[Any]) -> Any:
        return op(*items[:count], **dict(zip(names, items[count:])))

    def walk(out: Any, items: List[Any]) -> Any:
        if any(isinstance(v, Node) for v in items):
            return call(items)
        shape = next((v for v in items if isinstance(v, (list, dict, NodeContainer))), None)
        if shape is None:  # plain values only: the output keeps its own
            return out
        if isinstance(shape, list):
            for i in range(len(shape)):
                out[i] = walk(out[i], [v[i] if isinstance(v, list) else v for v in items])
        elif isinstance(shape, dict):
            for k in shape:
                out[k] = walk(out[k], [v[k] if isinstance(v, dict) else v for v in items])
        else:
            for name in vars(shape):
                setattr(out, name, walk(getattr(out, name),
                                        [getattr(v, name) if isinstance(v, NodeContainer) else v for v in items]))
        return out

    return walk(output, list(args) + list(kwargs.values()))


__all__ = ["apply_op"]
