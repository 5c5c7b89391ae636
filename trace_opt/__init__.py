"""trace_opt: train AI workflows the way PyTorch trains networks.

Run a workflow (traced into a graph), send feedback on its output backward, and let
optimizers update its parameters. Heavy dependencies (torch, litellm) load only when used.
"""
from . import graph
from .graph import (
    Bundle, ExceptionNode, Feedback, MessageNode, Module, Node, Parameter, TraceExecutionError, bundle,
    is_tracing, no_trace, node,
)

__version__ = "0.1.0"

__all__ = [
    "Bundle", "ExceptionNode", "Feedback", "MessageNode", "Module", "Node", "Parameter", "TraceExecutionError",
    "bundle", "graph", "is_tracing", "no_trace", "node", "__version__",
]
