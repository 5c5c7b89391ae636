"""Rollouts as Ray tasks: other processes, other machines (``pip install 'trace-opt-framework[ray]'``).

Ray is imported when a RayExecutor is created, never by ``import trace_opt``.

What comes back: a rollout runs in a worker process on a copy of the agent, and its return
value travels back pickled. Parameters travel by reference: the worker runs on copies of
the Parameters the rollout function reaches when ``map`` is called (a method bundle's code
parameter exists once ``parameters()`` has listed it, as building an optimizer does), and
every one of those copies in the result is swapped back for the driver's own Parameter. So a returned graph (an output node
and what it was computed from) ends at the driver's parameters, and ``output.backward(...)``
reaches them as it does on threads; the other nodes and the operations are copies.
Plain data (scores, texts) needs none of this and is the cheapest thing to return. A return
value that cannot be pickled, or not unpickled, on the way back (a lock, a client) becomes a
RolloutError in its place, like any other failed rollout.
"""
from __future__ import annotations

import dataclasses
import io
import pickle
from collections import ChainMap
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..graph.bundle import BoundBundle
from ..graph.context import _tracing
from ..graph.nodes import Parameter
from .base import Executor, RolloutError, run_captured

INSTALL_HINT = "pip install 'trace-opt-framework[ray]'"


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as error:
        raise ImportError(f"RayExecutor needs Ray, which is not installed: {INSTALL_HINT}") from error
    return ray


def _reduce_bound(bound: BoundBundle) -> Tuple[Any, Tuple[Any, Any]]:
    return BoundBundle, (bound.bundle, bound.instance)  # rebuilt by __init__: its slots are set before use


def _dumps(obj: Any, refs: Dict[int, int], found: Optional[List[Parameter]] = None) -> bytes:
    """cloudpickle ``obj``, writing each Parameter as a reference: its number in ``refs`` (by id),
    numbering new ones when ``found`` is given (the driver), pickling them by value otherwise."""
    from ray import cloudpickle

    class Pickler(cloudpickle.Pickler):
        dispatch_table = ChainMap({BoundBundle: _reduce_bound}, cloudpickle.Pickler.dispatch_table)

        def persistent_id(self, value: Any) -> Optional[int]:
            if not isinstance(value, Parameter):
                return None
            if id(value) not in refs and found is not None:
                refs[id(value)] = len(found)
                found.append(value)
            return refs.get(id(value))

    buffer = io.BytesIO()
    Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return buffer.getvalue()


def _loads(blob: bytes, parameters: List[Parameter]) -> Any:
    """The inverse of ``_dumps``: reference number i becomes ``parameters[i]``."""
    class Unpickler(pickle.Unpickler):
        def persistent_load(self, ref: int) -> Parameter:
            return parameters[ref]

    return Unpickler(io.BytesIO(blob)).load()


def _remote_rollout(payload: Tuple[bytes, bytes], index: int, item: Any, tracing: bool) -> Any:
    """Runs in a Ray worker: the caller's tracing switch, the rollout on copies of the parameters,
    then the result pickled with those copies as references (errors as text only)."""
    fn_blob, parameters_blob = payload
    copies = pickle.loads(parameters_blob)
    fn = _loads(fn_blob, copies)
    token = _tracing.set(tracing)
    try:
        result = run_captured(fn, index, item, keep_exception=False)
    finally:
        _tracing.reset(token)
    refs = {id(p): i for i, p in enumerate(copies)}
    try:
        return _dumps(result, refs)
    except Exception as error:  # noqa: BLE001 - a result that cannot travel is a failed rollout
        if isinstance(result, RolloutError) and result.node is not None:
            return _dumps(dataclasses.replace(result, node=None), refs)  # its text at least
        return _transport_error(index, error)


def _transport_error(index: int, error: BaseException) -> RolloutError:
    """A rollout whose result did not come back (rollouts' own errors are caught in the worker)."""
    cause = getattr(error, "cause", None)  # RayTaskError wraps the worker's exception
    original = cause if isinstance(cause, BaseException) else error
    lines = str(original).strip().splitlines()
    message = (f"{lines[0] if lines else ''} (the rollout's result could not come back from its Ray worker; "
               "Ray rollouts should return plain data or nodes)")
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
            if address is None:  # a local cluster talks over loopback only
                init_options.setdefault("_node_ip_address", "127.0.0.1")
            ray.init(address=address, num_cpus=num_cpus, **init_options)
        self._task = ray.remote(_remote_rollout).options(num_cpus=cpus_per_rollout)

    def _map(self, fn: Callable[[Any], Any], items: List[Any]) -> List[Any]:
        ray = self._ray
        from ray import cloudpickle

        parameters: List[Parameter] = []
        try:
            fn_blob = _dumps(fn, {}, parameters)
        except Exception as error:  # noqa: BLE001 - say which object could not travel, and what to do
            raise TypeError(f"RayExecutor: the rollout function cannot be sent to Ray workers ({error}); "
                            "objects it holds must pickle: create clients, locks and files inside the rollout") from error
        payload = ray.put((fn_blob, cloudpickle.dumps(parameters)))  # shipped once per map, not per rollout
        tracing = _tracing.get()
        refs = [self._task.remote(payload, i, item, tracing) for i, item in enumerate(items)]
        results = []
        for index, ref in enumerate(refs):
            try:
                blob = ray.get(ref)
                results.append(blob if isinstance(blob, RolloutError) else _loads(blob, parameters))
            except Exception as error:  # noqa: BLE001 - a lost worker or an unpicklable result
                results.append(_transport_error(index, error))
        return results

    def close(self) -> None:
        if not self._closed and self._owns_session and self._ray.is_initialized():
            self._ray.shutdown()
        super().close()

    def __repr__(self) -> str:
        return f"RayExecutor(owns_session={self._owns_session})"
