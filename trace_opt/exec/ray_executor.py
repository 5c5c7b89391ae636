"""Rollouts as Ray tasks: other processes, other machines (``pip install 'trace-opt-framework[ray]'``).

Ray is imported when a RayExecutor is created, never by ``import trace_opt``.

What comes back: a rollout runs in a worker process, on a copy of the agent, and its
return value travels back pickled. Ray rollouts should therefore return plain data
(scores, texts, dicts of them). Plain nodes, MessageNodes and Parameters do pickle, but
what arrives is a detached copy: feedback sent backward over it reaches the copies of the
parameters, not the driver's, so it cannot train anything. A return value that cannot be
pickled, or not unpickled, on the way back (a lock, a client; today also a MessageNode made
by a method ``bundle``) becomes a RolloutError in its place, like any other failed rollout.
"""
from __future__ import annotations

from typing import Any, Callable, List, Optional

from ..graph.context import _tracing
from .base import Executor, RolloutError, run_captured

INSTALL_HINT = "pip install 'trace-opt-framework[ray]'"


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as error:
        raise ImportError(f"RayExecutor needs Ray, which is not installed: {INSTALL_HINT}") from error
    return ray


def _remote_rollout(fn: Callable[[Any], Any], index: int, item: Any, tracing: bool) -> Any:
    """Runs in a Ray worker: the caller's tracing switch, then the rollout; errors as text only."""
    token = _tracing.set(tracing)
    try:
        return run_captured(fn, index, item, keep_exception=False)
    finally:
        _tracing.reset(token)


def _transport_error(index: int, error: BaseException) -> RolloutError:
    """A rollout whose result did not come back (rollouts' own errors are caught in the worker)."""
    cause = getattr(error, "cause", None)  # RayTaskError wraps the worker's exception
    original = cause if isinstance(cause, BaseException) else error
    lines = str(original).strip().splitlines()
    message = (f"{lines[0] if lines else ''} (the rollout's result could not come back from its Ray worker; "
               "Ray rollouts should return plain data)")
    full = RolloutError.from_exception(index, error, keep_exception=False)
    return RolloutError(index, type(original).__name__, message, full.traceback)


class RayExecutor(Executor):
    """Runs each rollout as a Ray task.

    With no ``address`` and no Ray running in this process, it starts a local cluster
    (``num_cpus`` CPUs, default: all) and shuts it down on ``close()``; with an ``address``
    (``"auto"``, ``"ray://host:10001"``, ...) it joins that cluster. If Ray is already
    initialised in this process, that session is used and left running. Each rollout
    reserves ``cpus_per_rollout`` CPUs (fractions allowed: LLM-bound rollouts mostly wait).
    """

    def __init__(self, address: Optional[str] = None, num_cpus: Optional[int] = None,
                 cpus_per_rollout: float = 1.0, **init_options: Any) -> None:
        if address is not None and num_cpus is not None:
            raise ValueError("RayExecutor: num_cpus is for a local cluster; a cluster joined by address "
                             "has its own CPUs (pass one of address= or num_cpus=)")
        if not cpus_per_rollout > 0:
            raise ValueError(f"RayExecutor(cpus_per_rollout=...) must be > 0, got {cpus_per_rollout!r}")
        ray = _import_ray()
        self._ray = ray
        self._owns_session = not ray.is_initialized()
        if self._owns_session:
            init_options.setdefault("include_dashboard", False)
            init_options.setdefault("log_to_driver", True)
            ray.init(address=address, num_cpus=num_cpus, **init_options)
        self._task = ray.remote(_remote_rollout).options(num_cpus=cpus_per_rollout)

    def _map(self, fn: Callable[[Any], Any], items: List[Any]) -> List[Any]:
        ray = self._ray
        fn_ref = ray.put(fn)  # the agent is shipped once per map, not once per rollout
        tracing = _tracing.get()
        refs = [self._task.remote(fn_ref, i, item, tracing) for i, item in enumerate(items)]
        results = []
        for index, ref in enumerate(refs):
            try:
                results.append(ray.get(ref))
            except Exception as error:  # noqa: BLE001 - a lost worker or an unpicklable result
                results.append(_transport_error(index, error))
        return results

    def close(self) -> None:
        if not self._closed and self._owns_session and self._ray.is_initialized():
            self._ray.shutdown()
        super().close()

    def __repr__(self) -> str:
        return f"RayExecutor(owns_session={self._owns_session})"
