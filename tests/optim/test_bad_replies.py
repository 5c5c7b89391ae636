"""Bad LLM replies never crash an OptoPrime step nor corrupt a parameter.

A scripted (fake, not recorded) OpenAI-compatible provider on 127.0.0.1 serves each bad
reply; the real LLM client talks to it over HTTP, so re-asks, retries and timeouts are the
client's real behaviour. Each case checks the step's outcome, the parameters, and the log.
"""
import json
import logging

import pytest

import trace_opt as to
from trace_opt.llm import LLM, retry

from ..llm.scripted_provider import Hang, Reply, ScriptedProvider, Status


class Agent(to.Module):
    def __init__(self):
        super().__init__()
        self.instructions = to.Parameter("Answer briefly.")
        self.temperature = to.Parameter(0.5, bounds=(0.0, 1.0))

    @to.bundle(trainable=True)
    def extract(self, reply: str) -> str:
        """The final answer."""
        return reply.strip()

    def forward(self):
        return self.extract(render(self.instructions, self.temperature))


@to.bundle()
def render(instructions, temperature):
    """Write the prompt with its temperature."""
    return f"{instructions} (t={temperature})"


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch, tmp_path):
    monkeypatch.setenv("TRACE_OPT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(retry.settings, "initial", 0.001)
    monkeypatch.setattr(retry.settings, "maximum", 0.01)


@pytest.fixture
def setup():
    with ScriptedProvider() as provider:
        agent = Agent()
        llm = LLM("openai/scripted", api_base=provider.api_base, api_key="sk-test-not-a-real-key-000000",
                  cache=False, timeout=1.0, max_retries=2, max_reasks=1)
        opt = to.optim.OptoPrime(agent.parameters(), llm=llm)
        agent().backward("Too vague.")
        yield provider, agent, opt, llm


def reply(**suggestion):
    return Reply(json.dumps({"reasoning": "scripted", "suggestion": suggestion}))


def test_not_json_is_re_asked_then_used(setup):
    provider, agent, opt, llm = setup
    provider.script(Reply("Sure! I would change the instructions."), reply(instructions="Answer in one word."))
    report = opt.step()
    assert agent.instructions.data == "Answer in one word." and llm.usage.reasks == 1
    reask = provider.requests[1]["body"]["messages"]
    assert reask[-2]["content"] == "Sure! I would change the instructions." and "not valid JSON" in reask[-1]["content"]


@pytest.mark.parametrize("bad", [
    Reply("not JSON at all"),
    Reply(json.dumps({"reasoning": "forgot the suggestion"})),        # JSON missing keys
    reply(temperature="hot"),                                          # wrong type
    Reply(""),                                                          # empty reply
    Reply('{"reasoning": "cut off", "suggestion": {"instru'),            # truncated JSON
])
def test_an_unusable_reply_is_re_asked_then_the_step_is_skipped(setup, bad, caplog):
    provider, agent, opt, llm = setup
    before = agent.state_dict()
    provider.script(bad, bad)
    report = opt.step()
    assert report.skipped.startswith("no usable proposal: ReplyError") and agent.state_dict() == before
    assert llm.usage.reasks == 1 and "step skipped" in caplog.text


def test_each_bad_suggestion_is_rejected_alone(setup, caplog):
    caplog.set_level(logging.INFO, logger="trace_opt.optim")
    provider, agent, opt, _ = setup
    before = agent.state_dict()
    provider.script(reply(instructions="", temperature=7.5, extract="def extract(self):\n    return 1\n",
                          unknown_variable="x"))
    report = opt.step()
    assert agent.state_dict() == before and report.updated == {}
    reasons = {p.name: p.reason for p in report.proposals}
    assert reasons == {"instructions": "rejected: an empty value",
                       "temperature": "rejected: 7.5 is outside bounds (0.0, 1.0)",
                       "extract": "rejected: code must keep the signature extract(self, reply), got extract(self)",
                       "unknown_variable": "not a variable of this step"}
    assert "suggestion for temperature not used" in caplog.text


def test_code_that_does_not_parse_is_rejected_and_good_values_still_apply(setup):
    provider, agent, opt, _ = setup
    provider.script(reply(instructions="Answer in one word.", extract="def extract(self, reply):\n    return (\n"))
    report = opt.step()
    assert agent.instructions.data == "Answer in one word." and agent.extract.parameter.data.startswith("def extract(self, reply: str)")
    assert [p.reason for p in report.proposals if p.name == "extract"][0].startswith("rejected: code does not parse")


def test_a_429_with_retry_after_is_retried_then_used(setup):
    provider, agent, opt, llm = setup
    provider.script(Status(429, "slow down", headers={"Retry-After": "0"}), reply(temperature=0.2))
    opt.step()
    assert agent.temperature.data == 0.2 and llm.usage.retries == 1


@pytest.mark.parametrize("failure", [Status(500, "boom"), Status(503, "unavailable"), Hang(3.0)])
def test_provider_failures_past_the_retries_skip_the_step(setup, failure, caplog):
    provider, agent, opt, llm = setup
    before = agent.state_dict()
    provider.script(failure, failure, failure)
    report = opt.step()
    assert report.skipped.startswith("no usable proposal: ProviderError") and agent.state_dict() == before
    assert "sk-test-not-a-real-key" not in report.skipped + caplog.text
