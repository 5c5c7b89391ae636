"""The tracing switch: the only mutable state of the graph layer.

It lives in a ContextVar, so each thread and each asyncio task sees its own value and
``no_trace`` blocks nest: the switch is restored, not forced on, when a block ends.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

_tracing: ContextVar[bool] = ContextVar("trace_opt_tracing", default=True)


def is_tracing() -> bool:
    """True when traced operations record nodes in a graph."""
    return _tracing.get()


@contextmanager
def no_trace() -> Iterator[None]:
    """Run without building a graph (evaluation, serving); values still flow as nodes."""
    token = _tracing.set(False)
    try:
        yield
    finally:
        _tracing.reset(token)
