"""Whether the model has answered at all in this process: a run with no reply is no result.

Every client reports here (a reply or a cache hit is an answer; a call that raised is a failure),
so a script can tell "the model said wrong things" from "the model never said anything".
`run_main` is how examples and scripts end: a model that cannot answer, or never did, gives
exit status 1 and the cause on stderr instead of a score of 0.00 and exit 0.
"""
from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from typing import Callable, Optional

from .errors import ModelNeverAnswered, ModelUnreachable, truncate


@dataclass(frozen=True)
class Health:
    answers: int = 0
    failures: int = 0
    last_failure: Optional[str] = None


_lock = threading.Lock()
_health = Health()


def record_answer() -> None:
    global _health
    with _lock:
        _health = Health(_health.answers + 1, _health.failures, _health.last_failure)


def record_failure(error: BaseException) -> None:
    global _health
    with _lock:
        _health = Health(_health.answers, _health.failures + 1,
                         truncate(f"{type(error).__name__}: {error}", 2000))


def snapshot() -> Health:
    with _lock:
        return _health


def never_answered(since: Health = Health()) -> Optional[ModelNeverAnswered]:
    """The error to raise when calls failed since `since` and none was answered, else None."""
    now = snapshot()
    failures, answers = now.failures - since.failures, now.answers - since.answers
    if failures and not answers:
        return ModelNeverAnswered(f"the model never answered: {failures} "
                                  f"{'call' if failures == 1 else 'calls'} failed and none got a reply; "
                                  f"the last error: {now.last_failure}")
    return None


def run_main(main: Callable[[], Optional[int]]) -> int:
    """`main()`'s exit status, or 1 with the cause on stderr when the model could not answer
    (`ModelUnreachable`) or never answered a single call."""
    try:
        status = main() or 0
    except ModelUnreachable as error:
        print(f"error: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    silent = never_answered()
    if silent is not None:
        print(f"error: {type(silent).__name__}: {silent}", file=sys.stderr)
        return 1
    return status
