"""The errors of traced operations: the code inside failed, it read a node it was not given, and
the errors it lets through.

An exception whose class sets ``stops_run = True`` (the model cannot answer at all, say) is
not the workflow's fault and is no feedback: traced operations re-raise it as it is, so it
reaches the caller instead of becoming an ExceptionNode that a loop would score as a wrong answer.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .nodes import ExceptionNode


class TraceExecutionError(Exception):
    """A traced operation raised. ``.node`` is the ExceptionNode recording it in the graph,
    ``.exception`` the original error; ``err.node.backward(str(err))`` turns it into feedback."""

    def __init__(self, message: str, node: "ExceptionNode") -> None:
        super().__init__(message)
        self.node = node
        self.exception = node.exception

    @property
    def exception_node(self) -> "ExceptionNode":
        """Trace's name for ``node``."""
        return self.node


def stops_run(exc: BaseException) -> bool:
    """Whether ``exc`` must pass through traced operations untouched (its class says ``stops_run``)."""
    return bool(getattr(type(exc), "stops_run", False))


class TraceMissingInputsError(TypeError):
    """A bundle's code read a node it was not given: the graph would miss that edge, and feedback
    on the output would silently never reach what the node came from."""


class TraceMissingInputsWarning(UserWarning):
    """A bundle's code read a node it was not given; the node was linked as an input."""
