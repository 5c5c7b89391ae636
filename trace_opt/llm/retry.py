"""Which provider errors are worth retrying, and how long to wait before the next try.

Transient: rate limits (429), timeouts (408 and client timeouts), connection errors and
5xx (a cut connection or a garbled body reaches us as a 500). Anything else (400, 401,
404, ...) fails at once. Waits are exponential with full jitter, or the server's
`Retry-After` (seconds or an HTTP date; `retry-after-ms` too), capped. Classification
reads status codes and class names, so this module needs neither litellm nor openai.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from datetime import datetime, timezone
from typing import Any, Callable, Optional

import tenacity

log = logging.getLogger("trace_opt.llm")


@dataclass
class BackoffSettings:
    """Wait parameters; tests shrink them (`trace_opt.llm.retry.settings.initial = 0.001`)."""

    initial: float = 1.0           # first backoff ceiling, seconds
    maximum: float = 30.0          # largest exponential backoff, seconds
    retry_after_cap: float = 60.0  # longest Retry-After honoured, seconds


settings = BackoffSettings()

_TRANSIENT_NAMES = {"Timeout", "APITimeoutError", "TimeoutException", "ReadTimeout", "ConnectTimeout",
                    "APIConnectionError", "ConnectError", "RemoteProtocolError", "NetworkError",
                    "ServiceUnavailableError", "InternalServerError", "RateLimitError",
                    "TimeoutError", "ConnectionError"}
_KINDS = {429: "rate limited", 408: "timed out", 500: "server error", 502: "bad gateway",
          503: "service unavailable", 504: "gateway timeout", 400: "bad request", 401: "unauthorized",
          403: "forbidden", 404: "not found"}


def status_of(exc: BaseException) -> Optional[int]:
    """The HTTP status an exception carries, if any."""
    for holder in (exc, getattr(exc, "response", None)):
        status = getattr(holder, "status_code", None)
        if isinstance(status, int):
            return status
    return None


def is_transient(exc: BaseException) -> bool:
    """Whether retrying the same request may succeed."""
    status = status_of(exc)
    if status is not None:
        return status in (408, 429) or status >= 500
    return any(cls.__name__ in _TRANSIENT_NAMES for cls in type(exc).__mro__)


def describe(exc: BaseException) -> str:
    """A short name for what went wrong ('rate limited', 'timed out', 'connection error', ...)."""
    status = status_of(exc)
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & {"Timeout", "APITimeoutError", "TimeoutException", "TimeoutError"}:
        return "timed out"
    if status in _KINDS:
        return _KINDS[status]
    if names & {"APIConnectionError", "ConnectError", "NetworkError", "ConnectionError"}:
        return "connection error"
    if status is not None and status >= 500:
        return "server error"
    return "error" if status is not None else type(exc).__name__


def _headers_of(exc: BaseException) -> Any:
    headers = getattr(exc, "litellm_response_headers", None)
    if headers is None:
        headers = getattr(getattr(exc, "response", None), "headers", None)
    return headers if headers is not None else getattr(exc, "headers", None)


def parse_retry_after(value: Optional[str], now: Optional[datetime] = None) -> Optional[float]:
    """Seconds to wait from a Retry-After value: delta-seconds or an HTTP date; None if unreadable."""
    if value is None:
        return None
    value = str(value).strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def retry_after(exc: BaseException) -> Optional[float]:
    """The wait the provider asked for in the error's headers, capped, or None."""
    headers = _headers_of(exc)
    if not headers:
        return None
    try:
        milliseconds = headers.get("retry-after-ms")
        seconds = float(milliseconds) / 1000.0 if milliseconds is not None else None
    except (TypeError, ValueError):
        seconds = None
    if seconds is None:
        seconds = parse_retry_after(headers.get("retry-after") or headers.get("Retry-After"))
    return None if seconds is None else min(seconds, settings.retry_after_cap)


def wait_seconds(attempt: int, exc: Optional[BaseException]) -> float:
    """Retry-After when given, else full-jitter exponential backoff for this attempt (1-based)."""
    asked = retry_after(exc) if exc is not None else None
    if asked is not None:
        return asked
    ceiling = min(settings.maximum, settings.initial * (2 ** (attempt - 1)))
    return random.uniform(0.0, ceiling)


def _wait(retry_state: tenacity.RetryCallState) -> float:
    outcome = retry_state.outcome
    return wait_seconds(retry_state.attempt_number, outcome.exception() if outcome else None)


def retry_policy(max_retries: int, on_retry: Callable[[BaseException, float, int], None]) -> dict:
    """Keyword arguments for tenacity.Retrying / AsyncRetrying: transient errors only, at most
    `max_retries` retries, the last error re-raised; `on_retry(error, wait, attempt)` before each wait."""

    def before_sleep(retry_state: tenacity.RetryCallState) -> None:
        wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
        on_retry(retry_state.outcome.exception(), wait, retry_state.attempt_number)

    return dict(stop=tenacity.stop_after_attempt(max(0, int(max_retries)) + 1),
                wait=_wait,
                retry=tenacity.retry_if_exception(is_transient),
                before_sleep=before_sleep,
                reraise=True)
