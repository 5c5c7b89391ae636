"""Nodes inside plain containers: what a traced call receives, and `to_data` for results.

A traced call (an operator or a bundle) given ``[x, y]`` or ``{"a": x}`` holding nodes receives
the plain values, and each node becomes a parent of the result, so ``node("+").join([x, y])``
depends on ``x`` and ``y``. `to_data` strips nodes out of any nesting, keys included.
"""
from __future__ import annotations

from typing import Any, List

from . import nodes as _nodes

_CONTAINERS = (list, tuple, dict)


def holds_nodes(value: Any) -> bool:
    """True for a list, tuple or dict with a node among its items (one level: what calls unwrap)."""
    if isinstance(value, dict):
        return any(isinstance(v, _nodes.Node) for v in value.values())
    return isinstance(value, _CONTAINERS) and any(isinstance(v, _nodes.Node) for v in value)


def take(name: str, value: Any, parents: List[Any], names: List[str]) -> Any:
    """Record an argument as a parent and return the plain value the call receives. A list, tuple
    or dict holding nodes is unwrapped one level, each node a parent named after its place."""
    if isinstance(value, _nodes.Node):
        parents.append(value)
        names.append(name)
        return value._data
    if holds_nodes(value):
        if isinstance(value, dict):
            return {k: take(f"{name}[{k!r}]", v, parents, names) for k, v in value.items()}
        items = [take(f"{name}[{i}]", v, parents, names) for i, v in enumerate(value)]
        return items if isinstance(value, list) else tuple(items)
    parents.append(_nodes.Node(value, name))
    names.append(name)
    return value


def to_data(value: Any) -> Any:
    """The value with every node replaced by its data, through lists, tuples, sets and dicts (keys
    too) at any depth; a node whose data holds nodes is unwrapped as well."""
    return _plain(value, 0)


_MAX_DEPTH = 500


def _plain(value: Any, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise ValueError(f"to_data(): containers nested deeper than {_MAX_DEPTH} levels")
    if isinstance(value, _nodes.Node):
        return _plain(value._data, depth + 1)
    if isinstance(value, dict):
        return {_plain(k, depth + 1): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_plain(v, depth + 1) for v in value]
        if isinstance(value, tuple) and hasattr(value, "_fields"):  # a namedtuple
            return type(value)(*items)
        return type(value)(items) if type(value) in (list, tuple, set, frozenset) else items
    return value
