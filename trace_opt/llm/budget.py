"""Hard spending limits checked before each call, shareable by several LLM objects.

A call is refused (`BudgetExceeded`, nothing sent) when it would pass `max_calls`, when
the tokens or dollars already spent reach their limit, or when this call's estimate
(prompt tokens; cost of prompt plus any `max_tokens` of completion) would pass it, counting the
estimates of calls still in flight (rollouts in parallel cannot all slip under one limit). With
`max_tokens` set on the call the dollar limit holds; without it a reply longer than nothing can
pass it by that reply's cost.
Cache hits cost nothing and are not counted.
"""
from __future__ import annotations

import threading
from typing import Optional

from .errors import BudgetExceeded


def _limit(name: str, value: Optional[float]) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"Budget {name} must be a number >= 0 or None, got {value!r}")
    return value


class Budget:
    """Limits on USD, tokens and calls; totals accumulate across every LLM that shares it."""

    def __init__(self, max_usd: Optional[float] = None, max_tokens: Optional[int] = None,
                 max_calls: Optional[int] = None):
        self.max_usd = _limit("max_usd", max_usd)
        self.max_tokens = _limit("max_tokens", max_tokens)
        self.max_calls = _limit("max_calls", max_calls)
        self._lock = threading.Lock()
        self._calls = 0
        self._tokens = 0
        self._cost = 0.0
        self._pending_tokens = 0   # estimates of calls reserved and not yet finished
        self._pending_cost = 0.0

    def __getstate__(self) -> dict:
        """A copy (in a Ray worker, say) starts from what was spent so far and counts on its own:
        a limit shared across processes needs the calls to be made in one process."""
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @property
    def calls(self) -> int:
        """Calls made or in flight."""
        return self._calls

    @property
    def tokens(self) -> int:
        return self._tokens

    @property
    def cost_usd(self) -> float:
        return self._cost

    @property
    def needs_estimate(self) -> bool:
        """Whether `reserve` looks at token / cost estimates (so callers may skip computing them)."""
        return self.max_tokens is not None or self.max_usd is not None

    def reserve(self, est_prompt_tokens: int = 0, est_cost_usd: float = 0.0) -> None:
        """Count one call about to be sent, or raise `BudgetExceeded` if it may not be."""
        with self._lock:
            if self.max_calls is not None and self._calls + 1 > self.max_calls:
                raise BudgetExceeded("max_calls", self.max_calls, self._calls, 1)
            if self.max_tokens is not None:
                if self._tokens >= self.max_tokens:
                    raise BudgetExceeded("max_tokens", self.max_tokens, self._tokens)
                if self._tokens + self._pending_tokens + est_prompt_tokens > self.max_tokens:
                    raise BudgetExceeded("max_tokens", self.max_tokens, self._tokens,
                                         self._pending_tokens + est_prompt_tokens)
            if self.max_usd is not None:
                if self._cost >= self.max_usd and (self.max_usd > 0 or est_cost_usd > 0):
                    raise BudgetExceeded("max_usd", self.max_usd, self._cost)
                if self._cost + self._pending_cost + est_cost_usd > self.max_usd:
                    raise BudgetExceeded("max_usd", self.max_usd, self._cost, self._pending_cost + est_cost_usd)
            self._calls += 1
            self._pending_tokens += est_prompt_tokens
            self._pending_cost += est_cost_usd

    def release(self, est_prompt_tokens: int = 0, est_cost_usd: float = 0.0) -> None:
        """Give back a reserved call that failed without a reply (and its estimate)."""
        with self._lock:
            self._calls = max(0, self._calls - 1)
            self._settle(est_prompt_tokens, est_cost_usd)

    def record(self, tokens: int, cost_usd: float, est_prompt_tokens: int = 0, est_cost_usd: float = 0.0) -> None:
        """Add what a finished call spent, in place of the estimate it reserved."""
        with self._lock:
            self._tokens += tokens
            self._cost += cost_usd
            self._settle(est_prompt_tokens, est_cost_usd)

    def _settle(self, est_prompt_tokens: int, est_cost_usd: float) -> None:
        self._pending_tokens = max(0, self._pending_tokens - est_prompt_tokens)
        self._pending_cost = max(0.0, self._pending_cost - est_cost_usd)

    def __repr__(self) -> str:
        return (f"Budget(max_usd={self.max_usd}, max_tokens={self.max_tokens}, max_calls={self.max_calls}; "
                f"spent: {self._calls} calls, {self._tokens} tokens, ${self._cost:.6f})")
