"""Error classification and waits, without any server."""
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from trace_opt.llm import retry


class StatusError(Exception):
    def __init__(self, status, headers=None):
        super().__init__(f"status {status}")
        self.status_code = status
        self.headers = headers


class APITimeoutError(Exception):
    """Named like openai's: classified by name, no import needed."""


class APIConnectionError(Exception):
    pass


@pytest.mark.parametrize("status, transient", [
    (429, True), (408, True), (500, True), (502, True), (503, True), (504, True), (529, True),
    (400, False), (401, False), (403, False), (404, False), (409, False), (422, False),
])
def test_status_classification(status, transient):
    assert retry.is_transient(StatusError(status)) is transient


def test_classification_by_exception_kind():
    assert retry.is_transient(APITimeoutError())
    assert retry.is_transient(APIConnectionError())
    assert retry.is_transient(ConnectionResetError())
    assert retry.is_transient(TimeoutError())
    assert not retry.is_transient(ValueError("bad argument"))
    assert not retry.is_transient(TypeError())


def test_describe_names_the_fault():
    assert retry.describe(StatusError(429)) == "rate limited"
    assert retry.describe(StatusError(503)) == "service unavailable"
    assert retry.describe(StatusError(599)) == "server error"
    assert retry.describe(APITimeoutError()) == "timed out"
    assert retry.describe(APIConnectionError()) == "connection error"
    assert retry.describe(ValueError()) == "ValueError"


def test_parse_retry_after_seconds_and_dates():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert retry.parse_retry_after("3") == 3.0
    assert retry.parse_retry_after(" 0.25 ") == 0.25
    assert retry.parse_retry_after("-5") == 0.0
    assert retry.parse_retry_after(format_datetime(now + timedelta(seconds=7), usegmt=True), now=now) == 7.0
    assert retry.parse_retry_after(format_datetime(now - timedelta(seconds=7), usegmt=True), now=now) == 0.0
    assert retry.parse_retry_after("soon") is None
    assert retry.parse_retry_after(None) is None


def test_retry_after_from_headers_is_capped(monkeypatch):
    monkeypatch.setattr(retry.settings, "retry_after_cap", 60.0)
    assert retry.retry_after(StatusError(429, {"retry-after": "2"})) == 2.0
    assert retry.retry_after(StatusError(429, {"retry-after": "86400"})) == 60.0
    assert retry.retry_after(StatusError(429, {"retry-after-ms": "1500"})) == 1.5
    assert retry.retry_after(StatusError(429, {})) is None
    assert retry.retry_after(StatusError(429)) is None


def test_backoff_is_exponential_with_jitter_and_bounded(monkeypatch):
    monkeypatch.setattr(retry.settings, "initial", 1.0)
    monkeypatch.setattr(retry.settings, "maximum", 8.0)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)]:
        waits = [retry.wait_seconds(attempt, StatusError(503)) for _ in range(50)]
        assert all(0.0 <= w <= ceiling for w in waits)
        assert len(set(waits)) > 1  # jittered
    assert retry.wait_seconds(5, StatusError(429, {"retry-after": "3"})) == 3.0


def test_policy_retries_transient_errors_only():
    import tenacity

    seen = []
    calls = {"n": 0}

    def flaky():
        calls["n"] += 1
        if calls["n"] < 3:
            raise StatusError(503)
        return "ok"

    policy = retry.retry_policy(4, lambda error, wait, attempt: seen.append((error.status_code, attempt)))
    assert tenacity.Retrying(**policy)(flaky) == "ok"
    assert seen == [(503, 1), (503, 2)]

    def bad_request():
        raise StatusError(400)

    with pytest.raises(StatusError):
        tenacity.Retrying(**retry.retry_policy(4, lambda *a: seen.append(a)))(bad_request)
    assert len(seen) == 2
