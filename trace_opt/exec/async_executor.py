"""Rollouts as asyncio tasks: many LLM calls in flight without a thread each.

``async def`` rollouts run as tasks; plain functions run on a thread pool of the same size,
so one executor takes both. From sync code, ``map`` runs the tasks on the executor's own
event loop (one background thread, kept until ``close()``, so async clients that cache
connections per loop keep them across minibatches). From async code, ``await amap(...)``
runs them on the caller's loop.
"""
from __future__ import annotations

import asyncio
import contextvars
import inspect
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable, List, Optional

from .base import Executor, RolloutError, check_positive


def _is_async(fn: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None))


async def _finish_tasks() -> None:
    others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)
    await asyncio.get_running_loop().shutdown_asyncgens()


class AsyncExecutor(Executor):
    """Runs at most ``concurrency`` rollouts of a ``map``/``amap`` call at once (default 16).

    Each rollout is its own task (or, for a plain function, a thread started from its task),
    with its own copy of the caller's contextvars, so tracing state stays per rollout.
    """

    def __init__(self, concurrency: Optional[int] = None) -> None:
        check_positive("concurrency", concurrency, "AsyncExecutor")
        self.concurrency = concurrency or 16
        self._lock = threading.Lock()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._pool: Optional[ThreadPoolExecutor] = None

    async def amap(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> List[Any]:
        """The async form of ``map``, on the running loop."""
        items = self._checked(fn, items, "amap")
        if not items:
            return []
        loop = asyncio.get_running_loop()
        limit = asyncio.Semaphore(self.concurrency)
        pool = None if _is_async(fn) else self._sync_pool()

        async def one(index: int, item: Any) -> Any:
            self._mark_running()  # in this task's own context, which its thread (if any) copies
            async with limit:
                try:
                    if pool is None:
                        return await fn(item)
                    result = await loop.run_in_executor(pool, contextvars.copy_context().run, fn, item)
                    return await result if inspect.isawaitable(result) else result
                except Exception as error:  # noqa: BLE001 - any failure of a rollout is a result
                    return RolloutError.from_exception(index, error)

        return list(await asyncio.gather(*(one(i, item) for i, item in enumerate(items))))

    def _map(self, fn: Callable[[Any], Any], items: List[Any]) -> List[Any]:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError("AsyncExecutor.map was called inside a running event loop, which it would block; "
                               "use `await executor.amap(fn, items)` there")
        # run_coroutine_threadsafe schedules from this thread's context, so contextvars carry over.
        return asyncio.run_coroutine_threadsafe(self.amap(fn, items), self._own_loop()).result()

    def _own_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._loop.run_forever, name="trace_opt-async-rollouts",
                                                daemon=True)
                self._thread.start()
            return self._loop

    def _sync_pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="trace_opt-async-sync")
            return self._pool

    def close(self) -> None:
        super().close()
        with self._lock:
            loop, thread, pool = self._loop, self._thread, self._pool
            self._loop = self._thread = self._pool = None
        if loop is not None and thread is not None:
            # Background tasks that clients left on the loop (e.g. litellm's logger) end here, quietly.
            asyncio.run_coroutine_threadsafe(_finish_tasks(), loop).result()
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()
        if pool is not None:
            pool.shutdown(wait=True)

    def __repr__(self) -> str:
        return f"AsyncExecutor(concurrency={self.concurrency})"
