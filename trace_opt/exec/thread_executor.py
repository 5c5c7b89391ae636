"""Rollouts on a thread pool: the default, right for rollouts that wait on LLM calls."""
from __future__ import annotations

import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, List, Optional

from .base import Executor, check_positive


class ThreadExecutor(Executor):
    """Runs rollouts on up to ``max_workers`` threads (default 16).

    Each rollout runs in its own copy of the caller's contextvars, so tracing state
    (``no_trace``) is inherited from the caller and stays per rollout: rollouts never
    switch tracing off for each other, and their graphs never mix. The pool is created on
    first use and reused until ``close()``.
    """

    def __init__(self, max_workers: Optional[int] = None) -> None:
        check_positive("max_workers", max_workers, "ThreadExecutor")
        self.max_workers = max_workers or 16
        self._pool: Optional[ThreadPoolExecutor] = None
        self._lock = threading.Lock()

    def _map(self, fn: Callable[[Any], Any], items: List[Any]) -> List[Any]:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="trace_opt-rollout")
            pool = self._pool
        futures = [pool.submit(contextvars.copy_context().run, self._rollout, fn, i, item)
                   for i, item in enumerate(items)]
        return [future.result() for future in futures]

    def close(self) -> None:
        super().close()
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def __repr__(self) -> str:
        return f"ThreadExecutor(max_workers={self.max_workers})"
