"""Where rollouts run: threads (the default), asyncio, or Ray.

Every executor has one method, ``map(fn, items)``: the results of ``fn(item)`` in input
order, where a rollout that raised is a ``RolloutError`` in its place (so a trainer turns it
into feedback instead of crashing), plus ``close()`` / use as a context manager. The same
trainer code runs on each. Ray is imported only when a RayExecutor is created; see
``ray_executor`` for how results (graph nodes included) come back from Ray workers.
"""
from __future__ import annotations

from typing import Union

from .async_executor import AsyncExecutor
from .base import Executor, RolloutError
from .ray_executor import RayExecutor
from .thread_executor import ThreadExecutor

_KINDS = ("thread", "async", "ray")


def as_executor(executor: Union[None, str, Executor] = None) -> Executor:
    """An Executor from what a user passed: None (threads), "thread", "async", "ray", or an Executor."""
    if executor is None or executor == "thread":
        return ThreadExecutor()
    if executor == "async":
        return AsyncExecutor()
    if executor == "ray":
        return RayExecutor()
    if isinstance(executor, Executor):
        return executor
    raise TypeError(f"executor must be an Executor or one of {_KINDS}, got {executor!r:.60}")


__all__ = ["AsyncExecutor", "Executor", "RayExecutor", "RolloutError", "ThreadExecutor", "as_executor"]
