"""Trace's error names: trace_opt's errors under them."""
from ....graph.errors import TraceExecutionError as ExecutionError
from ....graph.errors import TraceMissingInputsError

__all__ = ["ExecutionError", "TraceMissingInputsError"]
