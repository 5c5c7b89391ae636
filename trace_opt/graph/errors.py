"""The error a traced operation raises when the code inside it fails."""
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
