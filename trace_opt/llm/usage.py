"""Token, cost and event counts: what an LLM object has spent, readable at any time.

`Usage` is a plain snapshot (safe to keep, compare, add up); `UsageMeter` is the
thread-safe accumulator behind `LLM.usage`.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class Usage:
    """Totals so far. `calls` are provider calls that returned a reply (re-asks included,
    retries of the same request and cache hits not); tokens and cost are what those calls spent."""

    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    retries: int = 0
    reasks: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: "Usage") -> "Usage":
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})


class UsageMeter:
    """Accumulates a `Usage` under a lock; `snapshot()` returns an immutable copy."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._usage = Usage()

    def __getstate__(self) -> dict:  # a copy travels (to a Ray worker, say) without its lock
        return {"usage": self.snapshot()}

    def __setstate__(self, state: dict) -> None:
        self._lock = threading.Lock()
        self._usage = state["usage"]

    def add(self, **deltas: float) -> None:
        with self._lock:
            current = self._usage
            self._usage = replace(current, **{k: getattr(current, k) + v for k, v in deltas.items()})

    def snapshot(self) -> Usage:
        with self._lock:
            return self._usage
