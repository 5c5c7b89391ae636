"""Guides: functions of several shapes, and an LLM judge (with a scripted fake LLM)."""
import pytest

import trace_opt as to
from trace_opt.train import LLMJudge, as_guide

from ..optim.scripted_llm import ScriptedLLM


@pytest.mark.parametrize("returned, expected", [
    (to.Feedback(text="ok", score=0.5), to.Feedback(text="ok", score=0.5)),
    (0.25, to.Feedback(score=0.25)),
    ("too long", to.Feedback(text="too long")),
    ((1.0, "right"), to.Feedback(text="right", score=1.0)),
    (True, to.Feedback(text="correct", score=1.0)),
])
def test_plain_functions_are_guides(returned, expected):
    assert as_guide(lambda output, target: returned)("out", "target") == expected


def test_an_llm_judge_grades_against_the_rubric():
    llm = ScriptedLLM([{"feedback": "Close, but not the number only.", "score": 0.4}])
    judge = LLMJudge(llm, rubric="The answer is the number only.")
    assert judge("It is 12.", "12") == to.Feedback(text="Close, but not the number only.", score=0.4)
    prompt = llm.calls[0]["messages"][1]["content"]
    assert "The answer is the number only." in prompt and "'It is 12.'" in prompt and "'12'" in prompt
    with pytest.raises(Exception):
        llm.calls[0]["schema"].model_validate({"feedback": "x", "score": 7})  # the score is kept in [0, 1]


def test_a_guide_must_be_callable():
    with pytest.raises(TypeError, match="guide must be"):
        as_guide("not a guide")
