"""A function an LLM wrote, callable from the host, running only in isolated workers.

`IsolatedFunction` holds the code and what it may see (plain-data constants, allowed modules,
the names of traced functions it may call back); each call takes a warm worker loaded with
exactly that (a pool keyed by code, limits and surface, so no two candidates ever share a
process), sends the arguments as data, answers callbacks, and gives back the value or raises
`CallFailed` (`CandidateRaised` when the code itself raised). A worker that timed out, broke
the protocol or left threads running is killed, never reused.
"""
from __future__ import annotations

import atexit
import collections
import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple

from . import wire
from .policy import DEFAULT_POLICY, Policy
from .worker import Callback, CallFailed, Worker

WORKER_CPU_S = 600  # a warm worker's lifetime CPU; each call also has its own limit


class CandidateRaised(CallFailed):
    """The proposed code raised (or returned what cannot come back): its error in words."""


def worker_settings(policy: Policy, timeout: float, memory_mb: int) -> Dict[str, Any]:
    """Everything a worker is started with, as data (also the pool's key)."""
    if not timeout > 0 or not memory_mb > 0:
        raise ValueError(f"an isolated call needs timeout > 0 and memory_mb > 0, got {timeout!r}, {memory_mb!r}")
    return {
        "allowed_modules": sorted(policy.allowed_modules), "forbidden_names": sorted(policy.forbidden_names),
        "allow_write": policy.allow_write, "recursion_limit": policy.recursion_limit,
        "max_output_chars": policy.max_output_chars, "max_open_files": policy.max_open_files,
        "max_result_bytes": policy.max_result_bytes, "max_depth": policy.max_depth,
        "scratch_mb": policy.scratch_mb, "memory_mb": int(memory_mb), "timeout": float(timeout),
        "cpu_s": WORKER_CPU_S,
    }


@dataclass
class Surface:
    """What the code sees of where it came from: data, modules by name, callable names."""

    constants: Dict[str, Any] = field(default_factory=dict)
    modules: Dict[str, str] = field(default_factory=dict)       # global name -> module to import
    callbacks: Tuple[str, ...] = ()                             # global names the host runs
    unavailable: Dict[str, str] = field(default_factory=dict)  # name -> type, for the error


class IsolatedFunction:
    """`code`'s `func_name`, called in isolated workers; `on_callback(target, name, args, kwargs)`
    runs a traced function the code called (target "global", or "self" for a method's instance)."""

    def __init__(self, code: str, func_name: str, policy: Policy = DEFAULT_POLICY, timeout: float = 10.0,
                 memory_mb: int = 1024, surface: Optional[Surface] = None, filename: Optional[str] = None) -> None:
        surface = surface or Surface()
        self.settings = worker_settings(policy, timeout, memory_mb)
        self.load = {"code": code, "func_name": func_name, "filename": filename or "<trace_opt code>",
                     "constants": wire.encode(surface.constants), "modules": dict(surface.modules),
                     "callbacks": list(surface.callbacks), "unavailable": dict(surface.unavailable)}
        digest = hashlib.sha256(json.dumps([self.settings, self.load], sort_keys=True).encode()).hexdigest()
        self.key = digest

    def call(self, args=(), kwargs=None, view: Optional[dict] = None,
             on_callback: Optional[Callback] = None) -> Dict[str, Any]:
        """One call; the decoded result frame: ok, value, error, stdout, stderr. Raises CallFailed
        only for what is not the code's own doing (a timeout, a dead or lying worker)."""
        try:
            encoded = wire.encode(list(args)), wire.encode(dict(kwargs or {}))
        except (TypeError, ValueError) as exc:
            raise CallFailed(f"the arguments cannot go to isolated code: {exc}") from None
        worker = POOL.acquire(self.key, self.settings, self.load)
        healthy = False
        try:
            result = worker.call(*encoded, view, on_callback or _no_callbacks, self.settings["timeout"])
            result["value"] = wire.decode(result.get("value"), self.settings["max_depth"])
            healthy = True
        except ValueError as exc:
            raise CallFailed(f"the isolated worker's value was refused: {exc}") from None
        finally:
            POOL.release(self.key, worker, healthy)
        return result

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        result = self.call(args, kwargs)
        if not result["ok"]:
            raise CandidateRaised(result.get("error") or "failed")
        return result["value"]


def _no_callbacks(target: str, name: str, args: list, kwargs: dict) -> Any:
    raise PermissionError(f"{name} is not a traced function this code may call")


class WorkerPool:
    """Warm workers by key; at most `max_idle` kept, the least recently used closed first."""

    def __init__(self, max_idle: int = 16) -> None:
        self.max_idle = max_idle
        self.idle: "collections.OrderedDict[Tuple[str, int], Worker]" = collections.OrderedDict()
        self.lock = threading.Lock()
        self.pid = os.getpid()
        self.started = 0

    def acquire(self, key: str, settings: Dict[str, Any], load: Dict[str, Any]) -> Worker:
        with self.lock:
            self._forget_after_fork()
            for slot, worker in self.idle.items():
                if slot[0] == key:
                    del self.idle[slot]
                    if worker.alive:
                        return worker
                    worker.kill()
                    break
            self.started += 1
        worker = Worker(settings)
        worker.load(load)  # a load error stays in the worker: each call reports it
        return worker

    def release(self, key: str, worker: Worker, healthy: bool) -> None:
        if not healthy or not worker.alive or worker.threads() != 1:
            worker.kill()
            return
        with self.lock:
            if os.getpid() != self.pid:
                return
            self.idle[(key, id(worker))] = worker
            while len(self.idle) > self.max_idle:
                _, oldest = self.idle.popitem(last=False)
                oldest.kill()

    def close_all(self) -> None:
        with self.lock:
            workers, self.idle = list(self.idle.values()), collections.OrderedDict()
        for worker in workers:
            worker.kill()

    def _forget_after_fork(self) -> None:
        """A forked child owns none of its parent's workers."""
        if os.getpid() != self.pid:
            self.idle, self.pid = collections.OrderedDict(), os.getpid()


POOL = WorkerPool()
atexit.register(POOL.close_all)

