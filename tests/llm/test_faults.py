"""Provider faults against the scripted server: what is retried, re-asked, or raised, and how."""
import asyncio
import json
import logging

import pytest
from pydantic import BaseModel

from trace_opt.llm import ProviderError, ReplyError

from .conftest import FAKE_KEY
from .scripted_provider import CutBody, Hang, Raw, Reply, Status


class Answer(BaseModel):
    reasoning: str
    value: int


def ask(llm):
    return llm.structured([{"role": "user", "content": "What is 3 * 4?"}], schema=Answer)


def test_429_honours_retry_after(make_llm, provider):
    provider.script(Status(429, "rate limit reached", {"Retry-After": "1"}), Reply("twelve"))
    llm = make_llm()
    assert llm("hi") == "twelve"
    first, second = provider.requests
    assert second["time"] - first["time"] >= 0.95  # backoff alone is ~1 ms in tests
    assert llm.usage.retries == 1 and llm.usage.calls == 1


def test_retry_after_as_http_date_in_the_past_means_no_wait(make_llm, provider):
    provider.script(Status(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}), Reply("ok"))
    llm = make_llm()
    assert llm("hi") == "ok"
    assert provider.requests[1]["time"] - provider.requests[0]["time"] < 0.9


@pytest.mark.parametrize("code", [500, 502, 503])
def test_5xx_is_retried(make_llm, provider, code):
    provider.script(Status(code), Status(code), Reply("fine"))
    llm = make_llm()
    assert llm("hi") == "fine"
    assert len(provider.requests) == 3
    assert llm.usage.retries == 2 and llm.usage.calls == 1


def test_retries_exhausted_raise_provider_error_without_the_key(make_llm, provider, llm_logs):
    provider.script(*[Status(503, f"overloaded, key {FAKE_KEY}")] * 3)
    llm = make_llm(max_retries=2)
    with pytest.raises(ProviderError) as caught:
        llm("hi")
    error = caught.value
    message = str(error)
    assert "openai/scripted" in message and "503" in message and "overloaded" in message
    assert "after 2 retries" in message
    assert error.status == 503 and error.retries == 2
    assert FAKE_KEY not in message and FAKE_KEY not in repr(error)
    assert error.__cause__ is None  # the original error quoted the key: not chained
    assert FAKE_KEY not in llm_logs.text
    assert "retrying" in llm_logs.text
    assert len(provider.requests) == 3 and llm.usage.retries == 2 and llm.usage.calls == 0


def test_400_is_not_retried(make_llm, provider):
    provider.script(Status(400, "messages: unknown role 'robot'"), Reply("never sent"))
    llm = make_llm()
    with pytest.raises(ProviderError) as caught:
        llm("hi")
    assert len(provider.requests) == 1 and llm.usage.retries == 0
    assert caught.value.status == 400 and "bad request" in str(caught.value)
    assert "unknown role" in str(caught.value)


def test_401_is_not_retried_and_names_no_key(make_llm, provider):
    provider.script(Status(401, f"Incorrect API key provided: {FAKE_KEY}"))
    llm = make_llm()
    with pytest.raises(ProviderError) as caught:
        llm("hi")
    assert len(provider.requests) == 1
    assert caught.value.status == 401 and FAKE_KEY not in str(caught.value)


def test_hang_past_timeout_is_retried(make_llm, provider):
    provider.script(Hang(3.0), Reply("after the hang"))
    llm = make_llm(timeout=0.3)
    assert llm("hi") == "after the hang"
    assert llm.usage.retries == 1


def test_hangs_until_retries_run_out(make_llm, provider):
    provider.script(Hang(3.0), Hang(3.0))
    llm = make_llm(timeout=0.2, max_retries=1)
    with pytest.raises(ProviderError) as caught:
        llm("hi")
    assert "timed out" in str(caught.value) and caught.value.retries == 1


def test_connection_cut_mid_body_is_retried(make_llm, provider):
    provider.script(CutBody(), Reply("whole"))
    llm = make_llm()
    assert llm("hi") == "whole"
    assert llm.usage.retries == 1


def test_truncated_json_body_is_retried(make_llm, provider):
    provider.script(Raw(b'{"id": "chatcmpl-1", "choices": [{"message": {"content": "hal'), Reply("whole"))
    llm = make_llm()
    assert llm("hi") == "whole"
    assert llm.usage.retries == 1


def test_connection_refused_is_a_provider_error_after_retries(make_llm, provider):
    llm = make_llm(max_retries=1)
    provider.stop()
    with pytest.raises(ProviderError) as caught:
        llm("hi")
    assert caught.value.retries == 1 and FAKE_KEY not in str(caught.value)


def test_non_json_reply_is_reasked_then_parsed(make_llm, provider, llm_logs):
    provider.script(Reply("The answer is twelve."), Reply('{"reasoning": "3 times 4", "value": 12}'))
    llm = make_llm()
    answer = ask(llm)
    assert answer == Answer(reasoning="3 times 4", value=12)
    assert llm.usage.reasks == 1 and llm.usage.calls == 2
    reask = provider.requests[1]["body"]["messages"]
    assert reask[0] == {"role": "user", "content": "What is 3 * 4?"}
    assert reask[1] == {"role": "assistant", "content": "The answer is twelve."}
    assert "not valid JSON" in reask[2]["content"] and '"value"' in reask[2]["content"]
    assert "re-asking" in llm_logs.text


def test_reasks_exhausted_raise_reply_error(make_llm, provider):
    provider.script(*[Reply("no JSON here, sorry " * 40)] * 3)
    llm = make_llm(max_reasks=2)
    with pytest.raises(ReplyError) as caught:
        ask(llm)
    error = caught.value
    assert error.attempts == 3 and "not valid JSON" in error.error
    assert "no JSON here" in str(error) and "more characters" in str(error)  # raw reply, truncated
    assert llm.usage.reasks == 2 and llm.usage.calls == 3 and len(provider.requests) == 3


def test_json_missing_keys_is_reasked_with_the_field_named(make_llm, provider):
    provider.script(Reply('{"reasoning": "easy"}'), Reply('{"reasoning": "easy", "value": 12}'))
    llm = make_llm()
    assert ask(llm).value == 12
    follow_up = provider.requests[1]["body"]["messages"][-1]["content"]
    assert "value: Field required" in follow_up


def test_wrong_type_is_reasked(make_llm, provider):
    provider.script(Reply('{"reasoning": "r", "value": "twelve"}'), Reply('{"reasoning": "r", "value": 12}'))
    llm = make_llm()
    assert ask(llm).value == 12
    assert "value:" in provider.requests[1]["body"]["messages"][-1]["content"]


def test_truncated_json_reply_is_reasked(make_llm, provider):
    provider.script(Reply('{"reasoning": "3 times 4 is', ), Reply('{"reasoning": "r", "value": 12}'))
    llm = make_llm()
    assert ask(llm).value == 12
    assert llm.usage.reasks == 1


def test_empty_reply_counts_as_unusable(make_llm, provider):
    provider.script(Reply(""), Reply(None), Reply('{"reasoning": "r", "value": 12}'))
    llm = make_llm()
    assert ask(llm).value == 12
    assert llm.usage.reasks == 2
    follow_up = provider.requests[1]["body"]["messages"]
    assert "empty" in follow_up[-1]["content"]
    assert all(m["role"] != "assistant" for m in follow_up)  # nothing to quote back


def test_fenced_json_is_accepted_without_reask(make_llm, provider):
    provider.script(Reply('Sure!\n```json\n{"reasoning": "r", "value": 12}\n```\nHope it helps.'))
    llm = make_llm()
    assert ask(llm).value == 12 and llm.usage.reasks == 0


def test_local_server_gets_the_json_object_schema_form(make_llm, provider):
    provider.script(Reply('{"reasoning": "r", "value": 1}'))
    ask(make_llm())
    sent = provider.requests[0]["body"]["response_format"]
    assert sent["type"] == "json_object" and sent["schema"] == Answer.model_json_schema()


def test_provider_error_mid_reask_propagates(make_llm, provider):
    provider.script(Reply("not json"), Status(400, "context too long"))
    with pytest.raises(ProviderError):
        ask(make_llm())


def test_async_paths_retry_and_reask(make_llm, provider):
    provider.script(Status(503), Reply("async ok"), Reply("nope"), Reply('{"reasoning": "r", "value": 2}'))
    llm = make_llm()

    async def run():
        text = await llm.acall("hi")
        answer = await llm.astructured("what?", schema=Answer)
        return text, answer

    text, answer = asyncio.run(run())
    assert text == "async ok" and answer.value == 2
    assert llm.usage.retries == 1 and llm.usage.reasks == 1 and llm.usage.calls == 3


def test_async_errors_match_sync(make_llm, provider):
    provider.script(Status(400, "bad"), *[Reply("x")] * 2)
    llm = make_llm(max_reasks=1)
    with pytest.raises(ProviderError):
        asyncio.run(llm.acall("hi"))
    with pytest.raises(ReplyError):
        asyncio.run(llm.astructured("hi", schema=Answer))


def test_nothing_secret_in_the_request_body_or_logs(make_llm, provider, llm_logs):
    provider.script(Status(500), Reply("ok"))
    make_llm()("hi")
    for request in provider.requests:
        assert FAKE_KEY not in json.dumps(request["body"])
    assert FAKE_KEY not in llm_logs.text
    assert any(r.levelno == logging.WARNING for r in llm_logs.records)
