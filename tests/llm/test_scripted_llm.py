"""to.llm.ScriptedLLM, the fake LLM users script for their own tests (it is NOT a model and NOT a
recording): text and structured calls, usage in accounting scopes, an optimizer driven by it."""
import asyncio

import pytest
from pydantic import BaseModel

import trace_opt as to
from trace_opt.llm import ReplyError, ScriptedLLM, ScriptExhausted


class Answer(BaseModel):
    value: int


def test_replies_come_in_order_and_calls_are_kept():
    llm = ScriptedLLM(["first", lambda messages: f"echo {messages[-1]['content']}"])
    assert llm("hi") == "first"
    assert llm([{"role": "user", "content": "again"}]) == "echo again"
    assert llm("more") == "echo more"  # a callable answers every call from then on
    assert [m[-1]["content"] for m in llm.calls] == ["hi", "again", "more"]


def test_structured_replies_parse_like_a_real_reply():
    llm = ScriptedLLM(['Sure: {"value": 3}', {"value": 4}, "no json here", RuntimeError("boom")])
    assert llm.structured("q", Answer).value == 3
    assert asyncio.run(llm.astructured("q", Answer)).value == 4
    with pytest.raises(ReplyError, match="scripted"):
        llm.structured("q", Answer)
    with pytest.raises(RuntimeError, match="boom"):
        llm.structured("q", Answer)
    with pytest.raises(ScriptExhausted, match="no reply left for call 5"):
        llm("q")


def test_usage_is_counted_in_accounting_scopes():
    llm = ScriptedLLM(["two words"])
    with to.llm.accounting() as spent:
        llm("one two three")
    assert spent.calls == 1 and spent.prompt_tokens == 3 and spent.completion_tokens == 2
    assert llm.usage.calls == 1


def test_an_optimizer_step_scripted_without_reading_its_schema():
    prompt = to.Parameter("Say hi.", name="prompt")
    llm = ScriptedLLM([ScriptedLLM.suggestion({"prompt": "Say hello politely."})])
    opt = to.optim.OptoPrime([prompt], llm=llm)
    (prompt + " to Ann").backward("be polite")
    report = opt.step()
    assert prompt.data == "Say hello politely." and report.updated == {"prompt": "Say hello politely."}
    assert "be polite" in llm.calls[0][-1]["content"]
    with pytest.raises(TypeError, match="dict of variable name"):
        ScriptedLLM.suggestion(["not", "a", "dict"])
