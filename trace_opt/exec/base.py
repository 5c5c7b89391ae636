"""The executor interface and the value a failed rollout becomes.

A trainer runs one rollout per example of a minibatch. One bad example (a reply the agent
code chokes on, a timeout) must not end the run: it is feedback like any other. So every
executor returns, in input order, either the rollout's return value or a ``RolloutError``
holding what went wrong.
"""
from __future__ import annotations

import traceback as _traceback
from abc import ABC, abstractmethod
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, List, Optional, Tuple

from ..graph.errors import TraceExecutionError
from ..graph.nodes import ExceptionNode

# The executors whose rollout is running here: a rollout that maps on its own executor again
# runs those items inline, where waiting for the executor's busy workers would deadlock.
_running_in: ContextVar[Tuple[int, ...]] = ContextVar("trace_opt_exec_running_in", default=())


@dataclass(frozen=True)
class RolloutError:
    """A rollout that raised, kept in its place among the results.

    ``str(error)`` is ``"(ErrorType) message"``, the same form as ``ExceptionNode.data``, ready
    to be passed as feedback. When a traced operation failed (``TraceExecutionError``), ``node``
    is its ExceptionNode, linked to the parameters that led there, on every executor:
    ``error.node.backward(str(error))`` sends the feedback home. ``exception`` is the original
    exception object on threads and asyncio, None from another process (Ray).
    """

    index: int
    error_type: str
    message: str
    traceback: str = field(default="", repr=False, compare=False)
    exception: Optional[BaseException] = field(default=None, compare=False, repr=False)
    node: Optional[ExceptionNode] = field(default=None, compare=False, repr=False)

    @classmethod
    def from_exception(cls, index: int, error: BaseException, keep_exception: bool = True) -> "RolloutError":
        text = "".join(_traceback.format_exception(type(error), error, error.__traceback__))
        node = error.node if isinstance(error, TraceExecutionError) else None
        return cls(index, type(error).__name__, str(error), text, error if keep_exception else None, node)

    def __str__(self) -> str:
        return f"({self.error_type}) {self.message}"


def run_captured(fn: Callable[[Any], Any], index: int, item: Any, keep_exception: bool = True) -> Any:
    """``fn(item)``, or the RolloutError it raised (KeyboardInterrupt and SystemExit still stop the run)."""
    try:
        return fn(item)
    except Exception as error:  # noqa: BLE001 - any failure of a rollout is a result
        return RolloutError.from_exception(index, error, keep_exception)


class Executor(ABC):
    """Runs ``fn`` on each item, concurrently, and returns the results in input order.

    Use it as a context manager (or call ``close()``) to release its workers.
    """

    _closed = False

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> List[Any]:
        """``[fn(item) for item in items]``, run concurrently; a rollout that raised is a RolloutError."""
        items = self._checked(fn, items, "map")
        if id(self) in _running_in.get():
            return [run_captured(fn, i, item) for i, item in enumerate(items)]
        return self._map(fn, items) if items else []

    def _mark_running(self) -> None:
        """Called in a rollout's own context (a copy), before the rollout runs."""
        _running_in.set(_running_in.get() + (id(self),))

    def _rollout(self, fn: Callable[[Any], Any], index: int, item: Any) -> Any:
        self._mark_running()
        return run_captured(fn, index, item)

    def _checked(self, fn: Callable[[Any], Any], items: Iterable[Any], method: str) -> List[Any]:
        if not callable(fn):
            raise TypeError(f"{type(self).__name__}.{method} needs a callable as fn, got {type(fn).__name__}: {fn!r:.60}")
        if self._closed:
            raise RuntimeError(f"{type(self).__name__} is closed; create a new one")
        return list(items)

    @abstractmethod
    def _map(self, fn: Callable[[Any], Any], items: List[Any]) -> List[Any]:
        """Run ``fn`` on a non-empty list of items; results in order, errors as RolloutError."""

    def close(self) -> None:
        """Release workers; idempotent. The executor cannot be used afterwards."""
        self._closed = True

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def check_positive(name: str, value: Optional[int], owner: str) -> None:
    """A clear error for a worker count that is not a positive int (None means the default)."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"{owner}({name}=...) must be a positive int, got {value!r}")
