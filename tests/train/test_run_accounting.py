"""Every LLM call of a Trainer run is counted and held to the run's budget, whichever object
makes it: an LLM deep in a nested module, and the process default behind to.ops.llm_call.
The model is a scripted provider on 127.0.0.1 (echo replies, NOT a model, NOT a recording)."""
import pytest

import trace_opt as to
from trace_opt import ops
from trace_opt.llm import LLM, Budget
from trace_opt.train import Trainer, read_events

from ..llm.scripted_provider import ScriptedProvider
from .fakes import ScriptedOptimizer


@pytest.fixture
def provider(monkeypatch, tmp_path):
    monkeypatch.setenv("TRACE_OPT_CACHE_DIR", str(tmp_path / "cache"))
    with ScriptedProvider(echo_when_empty=True) as scripted:
        monkeypatch.setenv("TRACE_OPT_MODEL", "openai/scripted")
        monkeypatch.setenv("TRACE_OPT_API_BASE", scripted.api_base)
        monkeypatch.setattr(ops, "_shared", {})   # the ops default is made afresh, from the settings above
        yield scripted


class Inner(to.Module):
    def __init__(self, llm):
        super().__init__()
        self.llm = llm                      # an LLM the Trainer never sees directly
        self.prefix = to.Parameter("Say:")

    def forward(self, text):
        return to.ops.llm_call(self.prefix, text, llm=self.llm)


class Outer(to.Module):
    def __init__(self, llm):
        super().__init__()
        self.inner = Inner(llm)
        self.style = to.Parameter("Be brief.")

    def forward(self, text):
        first = self.inner(text)
        return to.ops.llm_call(self.style, first)   # the process default LLM


def exact(output, target):
    return to.Feedback(text="ok", score=1.0)


ROWS = [(f"row {i}", None) for i in range(8)]


def test_nested_and_default_llm_calls_are_all_counted(provider, tmp_path):
    nested = LLM("openai/scripted", api_base=provider.api_base, cache=False)
    agent = Outer(nested)
    trainer = Trainer(agent, ScriptedOptimizer(agent.parameters(), ["Be brief."]), ROWS[:2], None, exact,
                      batch_size=2, epochs=1, checkpoint_dir=tmp_path, progress=False)
    trainer.fit()
    assert len(provider.requests) == 4                       # 2 rows x (nested + default)
    assert trainer.account.calls == 4 and nested.usage.calls == 2
    assert ops._shared["llm"].usage.calls == 2
    assert read_events(tmp_path)[-3]["usage"]["calls"] == 4  # the step's event


def test_the_run_stops_at_the_budget_whoever_calls(provider, tmp_path):
    nested = LLM("openai/scripted", api_base=provider.api_base, cache=False)
    agent = Outer(nested)
    trainer = Trainer(agent, ScriptedOptimizer(agent.parameters(), ["Be brief."]), ROWS, ROWS[:1], exact,
                      batch_size=2, epochs=3, checkpoint_dir=tmp_path, progress=False, budget=Budget(max_calls=9))
    result = trainer.fit()
    assert result.reason == "budget" and "max_calls=9" in read_events(tmp_path)[-1]["message"]
    assert len(provider.requests) == 9 and trainer.account.calls == 9
    assert nested.budget is None                              # no object was handed the budget
