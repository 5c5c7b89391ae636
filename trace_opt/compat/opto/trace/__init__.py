"""Trace's ``opto.trace``: ``node``, ``bundle``, ``model``, ``Module``, ``stop_tracing``, ``GRAPH``, ..."""
from ....graph.context import no_trace as stop_tracing
from ....graph.nodes import Node
from . import bundle as _bundle_module  # noqa: F401 - opto.trace.bundle is a module in Trace too
from . import containers, errors, modules, nodes, operators, propagators, utils  # noqa: F401
from .broadcast import apply_op
from .bundle import ExecutionError, TraceMissingInputsError, bundle, to_data
from .containers import Map, NodeContainer, Seq
from .modules import Module, model
from .nodes import GRAPH, node

__all__ = ["GRAPH", "ExecutionError", "Map", "Module", "Node", "NodeContainer", "Seq", "TraceMissingInputsError",
           "apply_op", "bundle", "model", "node", "operators", "propagators", "stop_tracing", "to_data"]
