"""ParetoSearch charges each candidate what its rollouts cost and keeps to a dollar cap.
The model is a scripted provider on 127.0.0.1 (echo replies, NOT a model, NOT a recording),
named as a priced model so the LLM layer's accounting charges dollars."""
import pytest

import trace_opt as to
from trace_opt.llm import LLM, Budget
from trace_opt.train import ParetoSearch

from ..llm.scripted_provider import ScriptedProvider
from .fakes import ScriptedMutation

ROWS = [(f"say {word}", word) for word in ("apple", "pear", "plum", "fig", "lime", "kiwi")]
PADDING = "Answer in one word. " * 30  # a long prompt: every call costs more


@to.bundle()
def with_prompt(prompt: str, text: str) -> str:
    return prompt + "\n" + text


class Sayer(to.Module):
    """Its prompt goes into the user message, which the scripted provider echoes: a longer prompt
    costs more tokens, and what the prompt says decides the score."""

    def __init__(self, llm):
        super().__init__()
        self.llm = llm
        self.prompt = to.Parameter(PADDING + "Repeat the request.")

    def forward(self, text):
        return to.ops.llm_call("Answer.", with_prompt(self.prompt, text), llm=self.llm)


def found_word(output, target):
    """Full marks for saying it back (the dearest prompt), half for an echo (a cheap one)."""
    score = 1.0 if "back" in output else 0.5 if "Echo" in output else 0.0
    return to.Feedback(text="ok" if score == 1 else f"say {target} back", score=score)


@pytest.fixture
def provider(monkeypatch, tmp_path):
    monkeypatch.setenv("TRACE_OPT_CACHE_DIR", str(tmp_path / "cache"))
    with ScriptedProvider(echo_when_empty=True, count_words=True) as scripted:
        yield scripted


def search(provider, **options):
    llm = LLM("openai/gpt-4o-mini", api_base=provider.api_base, api_key="not-a-key", cache=False,
              max_tokens=400)  # the reply's cost is in the estimate a dollar budget checks
    agent = Sayer(llm)
    script = [{"prompt": "Repeat."}, {"prompt": PADDING * 2 + "Say it back."}, {"prompt": "Echo."}]
    return agent, ParetoSearch(agent, ScriptedMutation(agent, script), ROWS, ROWS, found_word, minibatch_size=2,
                               selection="rank", progress=False, **options)


def test_each_candidate_is_charged_its_rollouts_and_the_cheapest_good_one_is_offered(provider):
    agent, runner = search(provider, max_iterations=6)
    result = runner.fit()
    assert all(c.cost_usd > 0 and c.tokens > 0 for c in result.pool)
    by_prompt = {c.values["prompt"][-12:]: c for c in result.pool}
    dear, cheap = by_prompt["Say it back."], by_prompt["Echo."]
    assert result.best is dear and dear.cost_usd > 2 * cheap.cost_usd and dear.score > cheap.score
    assert result.cheapest_within(0.0) is dear and result.cheapest_within(0.5) is cheap
    capped = result.best_within(cheap.cost_usd * 1.01)  # the cap rules out the best one
    assert capped is cheap and capped.cost_usd <= cheap.cost_usd * 1.01
    assert result.best_within(min(c.cost_usd for c in result.pool) / 2) is None
    front = result.front()
    assert [c.cost_usd for c in front] == sorted(c.cost_usd for c in front)
    assert result.cost == "usd"


def test_a_dollar_cap_ends_the_search_within_it(provider):
    seed_cost = None
    agent, probe = search(provider, max_iterations=1)
    probe.fit()
    seed_cost = probe.account.cost_usd
    cap = seed_cost * 2.5
    agent, runner = search(provider, max_iterations=50, budget=Budget(max_usd=cap))
    result = runner.fit()
    assert result.reason == "budget"
    assert 0 < runner.account.cost_usd <= cap
    assert result.iterations < 50 and len(result.pool) >= 1
