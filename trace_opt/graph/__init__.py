"""The graph layer: nodes, tracing, bundle, backward, modules and export.

It imports nothing from the layers above it (llm, optim, train, ...).
"""
from .backward import Propagator, RecordingPropagator, backward
from .bundle import BoundBundle, Bundle, bundle
from .context import is_tracing, no_trace
from .errors import TraceExecutionError, TraceMissingInputsError, TraceMissingInputsWarning
from .export import digraph, from_json, render, to_json, to_networkx
from .feedback import Feedback, FeedbackRecord
from .kinds import KINDS
from .module import Module
from .nodes import Demos, ExceptionNode, MessageNode, Node, Parameter, node
from .operators import Operator
from .traversal import ancestors, linking_subgraph, topological_order, unique_names, upstream
from .containers import to_data

__all__ = [
    "KINDS", "BoundBundle", "Bundle", "ExceptionNode", "Feedback", "FeedbackRecord", "MessageNode", "Module",
    "Demos", "Node", "Operator", "Parameter", "Propagator", "RecordingPropagator", "TraceExecutionError", "TraceMissingInputsError",
    "TraceMissingInputsWarning", "ancestors",
    "backward", "bundle", "from_json", "is_tracing", "linking_subgraph", "no_trace", "node", "render",
    "to_json", "to_networkx", "topological_order", "unique_names", "upstream", "to_data", "digraph",
]
