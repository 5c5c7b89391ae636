"""TextGrad and OPRO with a scripted fake LLM."""
import pytest

import trace_opt as to

from .scripted_llm import ScriptedLLM


def _pipeline():
    prompt = to.Parameter("Write a poem.", name="prompt")
    draft = prompt + " About the sea."
    out = draft.upper()
    return prompt, draft, out


def test_textgrad_propagates_gradients_in_reverse_topological_order_then_updates():
    prompt, draft, out = _pipeline()
    out.backward("Too shouty.")
    llm = ScriptedLLM([
        {"feedback": {"fn": "Do not upper-case."}},                      # call (the upper() call), output first
        {"feedback": {"x": "Keep the text as written."}},                 # getattr(draft, "upper")
        {"feedback": {"a": "Ask for a calm poem."}},                      # add(prompt, " About the sea.")
        {"reasoning": "calmer", "suggestion": {"prompt": "Write a calm poem."}},
    ])
    opt = to.optim.TextGrad([prompt], llm=llm)
    report = opt.step()
    assert prompt.data == "Write a calm poem." and report.updated == {"prompt": "Write a calm poem."}
    first = llm.calls[0]["messages"][1]["content"]
    assert "Step: call" in first and "Too shouty." in first
    assert "Do not upper-case." in llm.calls[1]["messages"][1]["content"]
    assert opt.last_gradients == {"prompt": ["Ask for a calm poem."]}
    update = llm.calls[3]["messages"][1]["content"]
    assert "feedback: Ask for a calm poem." in update


def test_textgrad_bounds_its_gradient_calls_on_long_chains():
    prompt = to.Parameter("x", name="prompt")
    out = prompt
    for _ in range(50):
        out = out + "y"
    out.backward("shorter")
    llm = ScriptedLLM([{"feedback": {"a": "drop the y's"}}, {"suggestion": {"prompt": "z"}}])
    opt = to.optim.TextGrad([prompt], llm=llm, max_gradient_calls=3)
    opt.step()
    assert len(llm.calls) == 2 and prompt.data == "z"
    assert "shorter" in llm.calls[0]["messages"][1]["content"]


def test_opro_keeps_a_scored_history_and_asks_for_a_better_value():
    weight = to.Parameter(1.0, name="weight", bounds=(0.0, 10.0))
    llm = ScriptedLLM([{"suggestion": {"weight": 2.0}}, {"suggestion": {"weight": 3.0}}])
    opt = to.optim.OPRO([weight], llm=llm)
    for _ in range(2):
        opt.zero_feedback()
        out = weight * 1
        out.backward(to.Feedback(text="bigger is better", score=float(out.data)))
        opt.step()
    assert weight.data == 3.0
    assert [h["score"] for h in opt.history] == [1.0, 2.0]
    second = llm.calls[1]["messages"][1]["content"]
    assert second.index("weight=1.0 -> score 1") < second.index("weight=2.0 -> score 2")
    fresh = to.optim.OPRO([weight], llm=ScriptedLLM([]))
    fresh.load_state_dict(opt.state_dict())
    assert fresh.history == opt.history


def test_opro_and_textgrad_validate_their_options():
    with pytest.raises(ValueError, match="history_size"):
        to.optim.OPRO([to.Parameter("x")], llm=ScriptedLLM([]), history_size=0)
    with pytest.raises(ValueError, match="max_gradient_calls"):
        to.optim.TextGrad([to.Parameter("x")], llm=ScriptedLLM([]), max_gradient_calls=0)
