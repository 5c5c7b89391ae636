"""The LLM object: configuration, messages, usage totals, deterministic requests."""
import asyncio
import threading

import pytest

from trace_opt.llm import LLM, Usage, local

from .conftest import FAKE_KEY
from .scripted_provider import Reply, ScriptedProvider


def test_string_or_messages(make_llm, provider):
    provider.script(Reply("a"), Reply("b"))
    llm = make_llm()
    llm("hello")
    llm([{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}])
    assert provider.requests[0]["body"]["messages"] == [{"role": "user", "content": "hello"}]
    assert provider.requests[1]["body"]["messages"][0] == {"role": "system", "content": "be brief"}


@pytest.mark.parametrize("prompt, match", [
    (None, "prompt must be"), ([], "prompt must be"), ([{"content": "x"}], "message 0"),
    ([{"role": "user"}], "message 0"), (["hi"], "message 0"),
])
def test_bad_prompts_are_clear_errors(prompt, match):
    with pytest.raises(TypeError, match=match):
        LLM("openai/x", api_base="http://127.0.0.1:9/v1")(prompt)


@pytest.mark.parametrize("options, match", [
    ({"temperature": -1}, "temperature"), ({"max_retries": -1}, "max_retries"), ({"max_reasks": 1.5}, "max_reasks"),
    ({"timeout": 0}, "timeout"), ({"model": ""}, "model"),
])
def test_bad_options_are_clear_errors(options, match):
    options.setdefault("model", "openai/x")
    with pytest.raises(ValueError, match=match):
        LLM(**options)


def test_reserved_options_refused():
    with pytest.raises(TypeError, match="stream"):
        LLM("openai/x", stream=True)
    with pytest.raises(TypeError, match="budget"):
        LLM("openai/x", budget=10)
    llm = LLM("openai/x", api_base="http://127.0.0.1:9/v1")
    with pytest.raises(TypeError, match="api_key"):
        llm("hi", api_key="other")


def test_overrides_and_completion_options_are_sent(make_llm, provider):
    provider.script(Reply("a"), Reply("b"))
    llm = make_llm(seed=7, max_tokens=30, stop=["\n"])
    llm("hi")
    llm("hi", temperature=0.5, seed=8, max_tokens=10)
    first, second = (r["body"] for r in provider.requests)
    assert (first["temperature"], first["seed"], first["max_tokens"], first["stop"]) == (0.0, 7, 30, ["\n"])
    assert (second["temperature"], second["seed"], second["max_tokens"]) == (0.5, 8, 10)


def test_requests_are_byte_identical_for_replay(make_llm, provider):
    provider.script(Reply("a"), Reply("b"))
    llm = make_llm()
    llm("same prompt")
    llm("same prompt")
    assert provider.requests[0]["raw"] == provider.requests[1]["raw"]
    assert "seed" not in provider.requests[0]["body"]  # only when asked for


def test_usage_totals(make_llm, provider):
    provider.script(Reply("a", 10, 5), Reply("b", 20, 6))
    llm = make_llm()
    llm("x")
    llm("y")
    usage = llm.usage
    assert (usage.calls, usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (2, 30, 11, 41)
    assert usage.cost_usd == 0.0 and usage.retries == 0 and usage.reasks == 0 and usage.cache_hits == 0
    assert isinstance(usage, Usage) and llm.usage == usage  # a snapshot, comparable
    assert (usage + usage).total_tokens == 82


def test_usage_is_thread_safe():
    with ScriptedProvider(echo_when_empty=True) as server:
        llm = LLM("openai/echo", api_base=server.api_base, api_key=FAKE_KEY, cache=False)
        replies = []

        def work(worker):
            for i in range(5):
                replies.append(llm(f"{worker}-{i}"))

        threads = [threading.Thread(target=work, args=(w,)) for w in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(replies) == 30 and "echo: 3-4" in replies
        assert llm.usage.calls == 30 and llm.usage.total_tokens == 30 * 18


def test_async_calls_run_concurrently():
    with ScriptedProvider(echo_when_empty=True) as server:
        llm = LLM("openai/echo", api_base=server.api_base, api_key=FAKE_KEY, cache=False)

        async def run():
            return await asyncio.gather(*(llm.acall(f"q{i}") for i in range(8)))

        assert sorted(asyncio.run(run())) == sorted(f"echo: q{i}" for i in range(8))
        assert llm.usage.calls == 8


def test_key_stays_out_of_repr_and_vars(make_llm):
    llm = make_llm()
    assert FAKE_KEY not in repr(llm) and FAKE_KEY not in str(llm)
    assert "openai/scripted" in repr(llm)


def test_default_is_the_embedded_model_started_lazily(monkeypatch):
    monkeypatch.setattr(local, "ensure_server", lambda: pytest.fail("started at construction"))
    llm = LLM()
    assert (llm.model, llm.api_base, llm.local) == (local.MODEL, None, True)
    assert llm.local_server and llm.context_window == 2048
    assert "started on first call" in repr(llm)


def test_env_configures_the_default(monkeypatch):
    monkeypatch.setenv("TRACE_OPT_MODEL", "anthropic/claude-x")
    monkeypatch.setenv("TRACE_OPT_API_BASE", "https://proxy.example/v1")
    monkeypatch.setenv("TRACE_OPT_API_KEY", FAKE_KEY)
    llm = LLM()
    assert (llm.model, llm.api_base, llm.local) == ("anthropic/claude-x", "https://proxy.example/v1", False)
    assert llm._api_key == FAKE_KEY and FAKE_KEY not in repr(llm)
    assert not llm.local_server
    assert LLM("openai/gpt-4o-mini").api_base is None  # an explicit model ignores the env


def test_env_api_base_alone_means_an_already_running_local_server(monkeypatch):
    monkeypatch.setenv("TRACE_OPT_API_BASE", "http://127.0.0.1:8765/v1")
    llm = LLM()
    assert (llm.model, llm.api_base, llm.local) == (local.MODEL, "http://127.0.0.1:8765/v1", False)
    assert llm.local_server and llm.context_window == 2048


def test_openai_compatible_server_gets_a_dummy_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert LLM("openai/m", api_base="http://127.0.0.1:1/v1")._api_key == local.DUMMY_KEY
    assert LLM("openai/gpt-4o-mini")._api_key is None  # hosted: litellm reads the provider's env var


def test_hosted_structured_form_and_context_window():
    llm = LLM("openai/gpt-4o-mini")
    assert not llm.local_server
    assert llm.context_window and llm.context_window > 100_000
    assert LLM("openai/not-a-known-model-xyz").context_window is None
