"""A trace out of Python: networkx for analysis, JSON for storage, Graphviz for people.

Each export covers one output and its ancestors; labels (``add:0``) are made per export.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Dict, Union

from .kinds import is_tensor, non_str_key
from .nodes import ExceptionNode, MessageNode, Node, Parameter
from .serialize import decode_value, encode_value
from .traversal import topological_order, unique_names, upstream
from ..sandbox import bounded_json

FORMAT = "trace_opt.graph"
_MAX_TENSOR_EXPORT = 10_000


def to_networkx(output: Node) -> Any:
    """A ``networkx.DiGraph`` of the output and its ancestors: edges parent -> child, each
    graph node keyed by its label and carrying the trace_opt Node as attribute ``node``."""
    import networkx as nx

    _check_output(output, "to_networkx")
    order = topological_order([output])
    labels = unique_names(order)
    graph = nx.DiGraph(output=labels[output])
    for current in order:
        graph.add_node(labels[current], node=current, name=current.name, type=type(current).__name__,
                       trainable=current.trainable, description=current.description)
        for parent in upstream(current):
            graph.add_edge(labels[parent], labels[current])
    return graph


def to_json(output: Node, indent: Union[int, None] = None) -> str:
    """The trace as JSON text; ``from_json`` reads it back (values that are not JSON become reprs)."""
    _check_output(output, "to_json")
    order = topological_order([output])
    labels = unique_names(order)
    entries = []
    for current in order:
        entry: Dict[str, Any] = {"id": labels[current], "type": type(current).__name__, "name": current.name,
                                 "description": current.description, "data": _json_data(current.data),
                                 "parents": [labels[p] for p in upstream(current)]}
        if isinstance(current, MessageNode):
            entry["op"] = current.op.name
            entry["inputs"] = list(current.inputs)
        if isinstance(current, Parameter):
            entry.update(kind=current.kind, trainable=current.trainable, bounds=current.bounds,
                         choices=list(current.choices) if current.choices else None, constraint=current.constraint)
            if current.k is not None:
                entry["k"] = current.k
        entries.append(entry)
    return json.dumps({"format": FORMAT, "version": 1, "output": labels[output], "nodes": entries}, indent=indent)


class RecordedOp:
    """Stands for the operation of a node read back from JSON: its name and meaning, no code."""

    def __init__(self, name: str, description: str) -> None:
        self.name, self.description = name, description

    def input_names(self, count: int) -> tuple:
        return tuple(f"args[{i}]" for i in range(count))


class RecordedError(Exception):
    """Stands for the exception of an ExceptionNode read back from JSON: only its text survives."""


def from_json(text: str) -> Node:
    """Rebuild a trace written by to_json; returns its output node."""
    document = bounded_json.loads(text, what="the graph document")
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"not a trace_opt graph document (format {FORMAT!r} expected)")
    built: Dict[str, Node] = {}
    for entry in document["nodes"]:
        data = decode_value(entry["data"])
        parents = tuple(built[label] for label in entry["parents"])
        if entry["type"] in ("Parameter", "Demos"):
            made: Node = Parameter(data, entry["name"], description=entry["description"] or None, kind=entry["kind"],
                                   bounds=entry.get("bounds"), choices=entry.get("choices"),
                                   constraint=entry.get("constraint"), trainable=entry.get("trainable", True),
                                   k=entry.get("k"))
        elif entry["type"] == "ExceptionNode":  # stays one, so a failure read back is still found as one
            made = ExceptionNode(RecordedError(data), RecordedOp(entry["op"], entry["description"]), parents,
                                 tuple(entry["inputs"]))
            made._data, made.name = data, entry["name"]
        elif "op" in entry:
            made = MessageNode(data, RecordedOp(entry["op"], entry["description"]), parents,
                               tuple(entry["inputs"]), entry["name"])
        else:
            made = Node(data, entry["name"], entry["description"] or None)
        built[entry["id"]] = made
    return built[document["output"]]


def render(output: Node, path: Union[str, Path], format: Union[str, None] = None) -> Path:
    """Draw the trace with Graphviz to ``path`` (format from the suffix: svg, png, pdf)."""
    _check_output(output, "render")
    path = Path(path)
    fmt = format or path.suffix.lstrip(".") or "svg"
    dot = digraph(output)
    if shutil.which("dot") is None:
        raise RuntimeError("render() needs Graphviz's 'dot' program, which is not on PATH: "
                           "install Debian's 'graphviz' package (apt-get install graphviz)")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(dot.pipe(format=fmt))
    return path


def digraph(output: Node) -> Any:
    """The trace as a ``graphviz.Digraph`` (drawing it needs Graphviz's ``dot``; building it does not)."""
    _check_output(output, "digraph")
    try:
        import graphviz
    except ImportError:
        raise RuntimeError("drawing a trace needs the Python package 'graphviz' (pip install graphviz)") from None
    order = topological_order([output])
    labels = unique_names(order)
    dot = graphviz.Digraph(graph_attr={"rankdir": "TB"}, node_attr={"fontname": "Helvetica", "fontsize": "10"})
    ids = {current: f"n{i}" for i, current in enumerate(order)}  # labels hold ':', which dot reads as a port
    for current in order:
        dot.node(ids[current], label=f"{_escape(labels[current])}\\n{_escape(_preview(current.data))}",
                 **_style(current))
        for parent in upstream(current):
            dot.edge(ids[parent], ids[current])
    return dot


def _check_output(output: Any, caller: str) -> None:
    if not isinstance(output, Node):
        raise TypeError(f"{caller}() needs a trace_opt Node, got {type(output).__name__}")


def _style(current: Node) -> Dict[str, str]:
    if isinstance(current, ExceptionNode):
        return {"shape": "box", "style": "filled", "fillcolor": "#f8d0d0"}
    if isinstance(current, Parameter):
        return {"shape": "box", "style": "filled", "fillcolor": "#d0e4f8" if current.trainable else "#eeeeee"}
    if isinstance(current, MessageNode):
        return {"shape": "ellipse"}
    return {"shape": "box", "style": "rounded"}


def _preview(value: Any, width: int = 40) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _json_data(value: Any) -> Any:
    if is_tensor(value):
        return encode_value(value) if value.numel() <= _MAX_TENSOR_EXPORT else {"repr": repr(value)[:1000]}
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return {"repr": repr(value)[:1000]}
    # json.dumps turns non-str keys into str ({1: "a", "1": "b"} would come back as {"1": "b"}):
    # such a value is not JSON either, and a repr says so instead of reading back changed.
    return value if non_str_key(value) is None else {"repr": repr(value)[:1000]}
