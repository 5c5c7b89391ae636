"""LLMWarmStartSearch: the LLM's settings are evaluated first (Liu et al., 2024), then the search
goes on; an unusable reply falls back to random points. The LLM here is a scripted fake."""
import logging

import pytest

import trace_opt as to
from trace_opt.llm import BudgetExceeded, ReplyError
from trace_opt.optim import LLMWarmStartSearch

from ..optim.scripted_llm import ScriptedLLM
from .conftest import BEST, run

SETTINGS = [{"x": 0.6, "k": 5, "c": "b"}, {"x": 0.8, "k": 7, "c": "c"}, {"x": 0.3, "k": 2, "c": "a"}]


@pytest.mark.parametrize("then", ["optuna", "random"])
def test_the_llms_settings_are_tried_first_then_the_search_improves(box, then):
    if then == "optuna":
        pytest.importorskip("optuna")
    llm = ScriptedLLM([{"reasoning": "near the middle, then around it", "settings": SETTINGS}])
    opt = LLMWarmStartSearch(box.parameters(), llm=llm, n_initial=3, then=then, seed=0)
    seen = run(opt, box, 40)
    assert seen[:4] == [(0.1, 1, "a")] + [(s["x"], s["k"], s["c"]) for s in SETTINGS]
    assert len(llm.calls) == 1 and opt.search["fallback"] is None
    prompt = llm.calls[0]["messages"][-1]["content"]
    assert "x (a mixing weight): number from 0.0 to 1.0" in prompt and "one of ['a', 'b', 'c']" in prompt
    assert "scored -0.61" in prompt  # the initial values' score
    assert all(0.0 <= x <= 1.0 and type(k) is int and 0 <= k <= 10 and c in "abc" for x, k, c in seen)
    assert opt.best_score > BEST - 0.05
    if then == "optuna":
        assert [t.params for t in opt.study.trials[1:4]] == SETTINGS


def test_the_reply_schema_offers_numbers_within_bounds_and_choices_as_enums(box):
    opt = LLMWarmStartSearch(box.parameters(), llm=ScriptedLLM([]), n_initial=2, then="random")
    schema = opt.reply_model().model_json_schema()
    setting = schema["$defs"]["Suggestion"]["properties"]
    assert setting["x"]["minimum"] == 0.0 and setting["x"]["maximum"] == 1.0 and setting["k"]["type"] == "integer"
    assert setting["c"]["enum"] == ["a", "b", "c"] and schema["properties"]["settings"]["maxItems"] == 2


def test_invalid_values_are_dropped_one_by_one(box, caplog):
    llm = ScriptedLLM([{"settings": [{"x": 1.7, "k": 6, "c": "b"}, {"x": 0.2, "k": 3, "c": "a"},
                                     {"x": 0.2, "k": 3, "c": "a"}]}])  # out of bounds; a repeat
    opt = LLMWarmStartSearch(box.parameters(), llm=llm, n_initial=3, then="random", seed=0)
    with caplog.at_level(logging.INFO, logger="trace_opt.optim"):
        seen = run(opt, box, 4)
    assert seen[1][1:] == (6, "b") and 0.0 <= seen[1][0] <= 1.0  # x drawn instead of 1.7
    assert seen[2] == (0.2, 3, "a") and seen[3] != (0.2, 3, "a")  # the repeat replaced by a random point
    assert "1.7" in caplog.text and "outside bounds" in caplog.text


def test_an_unusable_reply_falls_back_to_random_points(box, caplog):
    llm = ScriptedLLM([ReplyError("fake/model", "not JSON", "I think x should be big", 3)])
    opt = LLMWarmStartSearch(box.parameters(), llm=llm, n_initial=3, then="random", seed=0)
    with caplog.at_level(logging.WARNING, logger="trace_opt.optim"):
        seen = run(opt, box, 30)
    assert "3 of 3 initial settings are random" in caplog.text and "ReplyError" in caplog.text
    assert "ReplyError" in opt.search["fallback"] and len(set(seen)) == 30
    assert opt.best_score > box.forward_at(*seen[0]) + 0.5


def test_a_reply_that_fails_its_schema_falls_back_too(box):
    llm = ScriptedLLM([{"settings": [{"x": 0.5, "k": 5, "c": "zzz"}]}])  # not one of the choices
    opt = LLMWarmStartSearch(box.parameters(), llm=llm, n_initial=1, then="random", seed=0)
    run(opt, box, 2)
    assert "ValidationError" in opt.search["fallback"]


def test_the_budget_running_out_is_not_swallowed(box):
    opt = LLMWarmStartSearch(box.parameters(), llm=ScriptedLLM([BudgetExceeded("max_calls", 1, 1)]), then="random")
    box().backward(to.Feedback("scored", score=0.0))
    with pytest.raises(BudgetExceeded):
        opt.step()


def test_state_dict_round_trip_does_not_ask_again(box):
    llm = ScriptedLLM([{"settings": SETTINGS}])
    opt = LLMWarmStartSearch(box.parameters(), llm=llm, n_initial=3, then="random", seed=0)
    run(opt, box, 2)
    saved, values = opt.state_dict(), box.state_dict()
    expected = run(opt, box, 4)
    other = type(box)()
    other.load_state_dict(values)
    resumed = LLMWarmStartSearch(other.parameters(), llm=ScriptedLLM([]), n_initial=3, then="random", seed=7)
    resumed.load_state_dict(saved)
    assert run(resumed, other, 4) == expected and expected[:2] == [(s["x"], s["k"], s["c"]) for s in SETTINGS[1:]]
    with pytest.raises(ValueError, match="lacks 'engine'"):
        resumed.load_state_dict({"search": {}, "rng": None})


def test_bad_input_is_a_clear_error(box):
    with pytest.raises(ValueError, match="then must be 'optuna' or 'random'"):
        LLMWarmStartSearch(box.parameters(), then="grid")
    with pytest.raises(ValueError, match="n_initial must be an int >= 1"):
        LLMWarmStartSearch(box.parameters(), n_initial=0)
    with pytest.raises(ValueError, match=r"bounds.*'free'"):
        LLMWarmStartSearch([to.Parameter(2.0, name="free")], then="random")
    with pytest.raises(ValueError, match="empty parameter list"):
        LLMWarmStartSearch([], then="random")
    with pytest.raises(ValueError, match="then='optuna' only"):
        LLMWarmStartSearch(box.parameters(), then="random", study=object())
