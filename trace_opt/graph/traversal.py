"""Walking a trace: iterative (no recursion limit) and linear in nodes plus edges."""
from __future__ import annotations

from typing import Dict, Iterable, List, Tuple

from .nodes import Node


def upstream(current: Node) -> Tuple[Node, ...]:
    """What a node was computed from: its parents and, for a bundle traced inside
    (``traceable_code``), the output of its inner graph, so feedback and exports reach into it."""
    info = current.info
    if info is None or "output" not in info:
        return current.parents
    return current.parents + (info["output"],)


def _parents(current: Node) -> Tuple[Node, ...]:
    return current.parents


def topological_order(outputs: Iterable[Node]) -> List[Node]:
    """The outputs and all their ancestors, each parent before its children."""
    order: List[Node] = []
    seen = set()
    for root in outputs:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(upstream(root)))]
        while stack:
            current, pending = stack[-1]
            for parent in pending:
                if parent not in seen:
                    seen.add(parent)
                    stack.append((parent, iter(upstream(parent))))
                    break
            else:
                stack.pop()
                order.append(current)
    return order


def ancestors(output: Node, expand: bool = True) -> List[Node]:
    """The output and every node it was computed from, in no particular order (cheapest walk);
    ``expand=False`` stays out of the inner graphs of bundles traced inside."""
    seen = {output}
    stack = [output]
    found = []
    edges = upstream if expand else _parents
    while stack:
        current = stack.pop()
        found.append(current)
        for parent in edges(current):
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return found


def linking_subgraph(outputs: Iterable[Node], sources: Iterable[Node]) -> List[Node]:
    """Nodes on some path from a source to an output, parents before children.

    One pass over the outputs' ancestors marks what a source reaches; the optimizer calls
    this once per step over the union of that step's outputs and parameters.
    """
    reached = set(sources)
    linked: List[Node] = []
    for current in topological_order(outputs):
        if current in reached or any(p in reached for p in upstream(current)):
            reached.add(current)
            linked.append(current)
    return linked


def leveled(nodes: Iterable[Node]) -> List[Tuple[int, Node]]:
    """(depth, node) pairs for nodes given parents first: a node is one deeper than its deepest
    parent among them (0 for the first ones); shallowest first, as Trace lists a graph."""
    depth: Dict[Node, int] = {}
    for current in nodes:
        depth[current] = 1 + max((depth[p] for p in current.parents if p in depth), default=-1)
    return sorted(((d, n) for n, d in depth.items()), key=lambda pair: pair[0])


def unique_names(nodes: Iterable[Node]) -> Dict[Node, str]:
    """A readable, unique label per node (``add:0``, ``add:1``, ``instructions:0``) for one export.

    Labels are assigned per export rather than by a global counter, so no state outlives a graph.
    """
    counts: Dict[str, int] = {}
    labels: Dict[Node, str] = {}
    for current in nodes:
        index = counts.get(current.name, 0)
        counts[current.name] = index + 1
        labels[current] = f"{current.name}:{index}"
    return labels
