"""trace_opt: train AI workflows the way PyTorch trains networks.

Run a workflow (traced into a graph), send feedback on its output backward, and let
optimizers update its parameters. Heavy dependencies (torch, litellm) load only when used.
"""
from importlib import import_module
from typing import Any

from . import graph, optim
from .data import Example, Prediction
from .graph import (
    Bundle, Demos, ExceptionNode, Feedback, MessageNode, Module, Node, Parameter, TraceExecutionError, bundle,
    is_tracing, no_trace, node,
)

__version__ = "0.1.0"

# Loaded on first use (like torch.optim after `import torch`): the LLM layer, the operators that
# call it, the sandbox, training, the executors and the reports.
_LAZY = {"llm": ".llm", "ops": ".ops", "sandbox": ".sandbox", "LLM": ".llm", "train": ".train", "exec": ".exec",
         "report": ".report", "compile": ".train"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = import_module(_LAZY[name], __name__)
        return module if name == _LAZY[name].lstrip(".") else getattr(module, name)
    raise AttributeError(f"module 'trace_opt' has no attribute {name!r}")

__all__ = [
    "Bundle", "Demos", "Example", "ExceptionNode", "Feedback", "MessageNode", "Module", "Node", "Parameter", "Prediction",
    "TraceExecutionError", "bundle", "compile", "graph", "is_tracing", "no_trace", "node", "optim", "__version__",
]
