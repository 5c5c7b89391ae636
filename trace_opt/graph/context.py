"""The tracing switch (and, while a bundle runs, the nodes it reads): the graph layer's only state.

It lives in a ContextVar, so each thread and each asyncio task sees its own value and
``no_trace`` blocks nest: the switch is restored, not forced on, when a block ends.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator, List, Optional

_tracing: ContextVar[bool] = ContextVar("trace_opt_tracing", default=True)
# While a traced bundle runs: the nodes whose ``.data`` its code read (each should be an input).
_reads: ContextVar[Optional[List]] = ContextVar("trace_opt_reads", default=None)


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
