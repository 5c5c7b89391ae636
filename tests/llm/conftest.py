"""Fixtures for the LLM layer: a scripted provider on 127.0.0.1, a private cache, tiny backoff."""
import logging

import pytest

from trace_opt.llm import LLM, local, retry

from .scripted_provider import ScriptedProvider
from .standin import REPO

# A fake key planted in every client: tests assert it never shows up anywhere.
FAKE_KEY = "sk-test-PLANTED-0123456789abcdef"


@pytest.fixture(autouse=True)
def private_cache_and_fast_backoff(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACE_OPT_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("TRACE_OPT_MODEL", "TRACE_OPT_API_BASE", "TRACE_OPT_API_KEY", "TRACE_OPT_LOCAL_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(retry.settings, "initial", 0.001)
    monkeypatch.setattr(retry.settings, "maximum", 0.01)


@pytest.fixture
def provider():
    with ScriptedProvider() as scripted:
        yield scripted


@pytest.fixture
def make_llm(provider):
    """An LLM aimed at the scripted provider (cache off unless asked), with the planted key."""

    def make(**options) -> LLM:
        options.setdefault("cache", False)
        options.setdefault("timeout", 5.0)
        model = options.pop("model", "openai/scripted")
        return LLM(model, api_base=provider.api_base, api_key=FAKE_KEY, **options)

    return make


@pytest.fixture
def llm_logs(caplog):
    caplog.set_level(logging.DEBUG, logger="trace_opt.llm")
    return caplog


@pytest.fixture
def fresh_server(monkeypatch):
    """A new process-wide embedded-server slot (no restarts spent), stopped after the test."""
    server = local.LocalServer()
    monkeypatch.setattr(local, "server", server)
    monkeypatch.chdir(REPO)
    yield server
    server.stop()
