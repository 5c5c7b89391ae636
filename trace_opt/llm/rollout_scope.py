"""Rollout ids: sampled replies made inside a named rollout are cached under that name.

A reply at temperature > 0 is a sample, so the cache normally skips it: the same request should
be free to answer differently. Inside ``rollout_scope(id)`` it is cached with the id (and the
request's position among identical ones in the rollout) in the key, so a search that runs rollout
``id`` again, after a kill and ``resume()`` or in a replay, gets the very samples it got the first
time, while two different rollouts still draw their own.
"""
from __future__ import annotations

import contextlib
import hashlib
import threading
from contextvars import ContextVar
from typing import Dict, Iterator, Optional


class RolloutScope:
    def __init__(self, rollout_id: str) -> None:
        if not isinstance(rollout_id, str) or not rollout_id:
            raise ValueError(f"a rollout id must be a non-empty str, got {rollout_id!r}")
        self.rollout_id = rollout_id
        self._seen: Dict[str, int] = {}
        self._lock = threading.Lock()

    def key(self, request_key: str) -> str:
        """The cache key of this request in this rollout: the n-th identical request gets its own."""
        with self._lock:
            n = self._seen.get(request_key, 0)
            self._seen[request_key] = n + 1
        return hashlib.sha256(f"{request_key}|rollout={self.rollout_id}|{n}".encode("utf-8")).hexdigest()


_current: ContextVar[Optional[RolloutScope]] = ContextVar("trace_opt_rollout", default=None)


@contextlib.contextmanager
def rollout_scope(rollout_id: str) -> Iterator[RolloutScope]:
    """Cache the sampled replies of the calls inside the block under ``rollout_id``."""
    scope = RolloutScope(rollout_id)
    token = _current.set(scope)
    try:
        yield scope
    finally:
        _current.reset(token)


def current_rollout() -> Optional[RolloutScope]:
    return _current.get()
