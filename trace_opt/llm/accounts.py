"""Accounting scopes: every LLM call made inside one is counted, and checked against its budget,
whichever object makes it.

`with to.llm.accounting(budget) as usage:` is to spending what `no_trace()` is to tracing: a
ContextVar, so it holds for the calls of this thread and task and of the threads and tasks they
start with a copy of the context (the executors do). An LLM held deep in a nested module, or the
process default behind `to.ops.llm_call`, is charged like any other: no object has to be found
and handed the budget. Scopes nest; a call is charged to every open scope.
"""
from __future__ import annotations

import contextlib
from contextvars import ContextVar
from typing import Iterator, List, Optional, Tuple

from .budget import Budget
from .usage import Usage, UsageMeter


class Account:
    """What the calls inside one scope spent so far; reads like a `Usage` (always current)."""

    def __init__(self, budget: Optional[Budget]) -> None:
        if budget is not None and not isinstance(budget, Budget):
            raise TypeError(f"accounting() takes a trace_opt.llm.Budget or None, got {type(budget).__name__}")
        self.budget = budget
        self._meter = UsageMeter()

    def add(self, **deltas: float) -> None:
        self._meter.add(**deltas)

    @property
    def usage(self) -> Usage:
        """A snapshot of the totals."""
        return self._meter.snapshot()

    def __getattr__(self, name: str):  # calls, cache_hits, prompt_tokens, ..., total_tokens
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._meter.snapshot(), name)

    def __repr__(self) -> str:
        return f"Account({self.usage}, budget={self.budget})"


_open: ContextVar[Tuple[Account, ...]] = ContextVar("trace_opt_accounting", default=())


@contextlib.contextmanager
def accounting(budget: Optional[Budget] = None) -> Iterator[Account]:
    """Count (and, with a `budget`, limit) every LLM call made inside the block."""
    account = Account(budget)
    token = _open.set(_open.get() + (account,))
    try:
        yield account
    finally:
        _open.reset(token)


def open_accounts() -> Tuple[Account, ...]:
    return _open.get()


def count(meter: UsageMeter, **deltas: float) -> None:
    """Add a call's usage to its LLM's own meter and to every open accounting scope."""
    meter.add(**deltas)
    for account in _open.get():
        account.add(**deltas)


def budgets(own: Optional[Budget]) -> List[Budget]:
    """The budgets a call must fit: its LLM's own and every open scope's, each once."""
    found: List[Budget] = [own] if own is not None else []
    for account in _open.get():
        if account.budget is not None and all(account.budget is not b for b in found):
            found.append(account.budget)
    return found
