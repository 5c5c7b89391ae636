"""Guides: what turns an output and its target into feedback (words and a score).

A plain function is a guide too: it may return a ``Feedback``, a number (the score), a str
(the words), a ``(score, text)`` pair, or an object or dict with ``score`` and ``feedback``
(GEPA's ``Prediction(score=, feedback=)``). A function of the DSPy metric shape
``(gold, pred, trace=None)`` is read as one (``Metric``): it gets the Example row, the answer as a
``Prediction`` and, while training, the output node (``None`` when only scoring).
``LLMJudge`` asks an LLM to grade against a rubric.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, Mapping, Optional

from pydantic import BaseModel, Field

from ..data import as_gold, as_prediction, target_value
from ..graph import Feedback


class Guide:
    """Maps (output, target) to Feedback; higher scores are better. ``target`` is the row's target
    as given (an ``Example`` row itself; ``data.target_value`` reads its label)."""

    takes_trace = False  # True: called as guide(output, target, trace=output node or None)

    def __call__(self, output: Any, target: Any) -> Feedback:
        raise NotImplementedError


class FunctionGuide(Guide):
    """A function ``(output, target) -> feedback``; an Example row's target reaches it as its label."""

    def __init__(self, fn: Callable[[Any, Any], Any]) -> None:
        self.fn = fn

    def __call__(self, output: Any, target: Any) -> Feedback:
        return to_feedback(self.fn(output, target_value(target)))


class Metric(Guide):
    """A DSPy-style metric ``(gold, pred, trace=None) -> score | (score, feedback) | bool``.
    ``gold`` is the Example row (a plain target reads as ``Example(answer=target)``), ``pred`` the
    output as a ``Prediction``; GEPA's extra ``pred_name`` and ``pred_trace`` arguments get None."""

    takes_trace = True

    def __init__(self, fn: Callable[..., Any]) -> None:
        if not callable(fn):
            raise TypeError(f"Metric needs a function (gold, pred, trace=None), got {type(fn).__name__}")
        self.fn, self.extra = fn, max(0, _positional_count(fn) - 3)

    def __call__(self, output: Any, target: Any, trace: Any = None) -> Feedback:
        gold = as_gold(target)
        return to_feedback(self.fn(gold, as_prediction(output, gold), trace, *([None] * self.extra)))


_METRIC_NAMES = ({"gold", "example", "ex"}, {"pred", "prediction"})


def _positional_count(fn: Callable[..., Any]) -> int:
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 2
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in parameters)


def _is_metric(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` has the DSPy metric shape: its first two parameters named (gold|example,
    pred|prediction), or a third positional one named ``trace``."""
    try:
        names = [p.name for p in inspect.signature(fn).parameters.values()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return False
    if len(names) >= 2 and names[0] in _METRIC_NAMES[0] and names[1] in _METRIC_NAMES[1]:
        return True
    return len(names) >= 3 and names[2] == "trace"


def to_feedback(value: Any) -> Feedback:
    """Read what a guide function returned as Feedback, or say clearly what it returned.
    A dict of name -> number is a set of named scores; ``(dict, text)`` adds words to them."""
    scored = _score_and_feedback(value)
    if scored is not None:
        return scored
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], str):
        if isinstance(value[0], Mapping):
            return Feedback(text=value[1], scores=value[0])
        return Feedback(text=value[1], score=float(value[0]))
    if isinstance(value, Mapping):
        return Feedback(scores=value)
    if isinstance(value, bool):
        return Feedback(text="correct" if value else "incorrect", score=float(value))
    try:
        return Feedback.coerce(value)
    except TypeError:
        raise TypeError("a guide must return Feedback, a score, a text, (score, text), named scores {name: number} "
                        f"or (scores, text); got {type(value).__name__}") from None


def _score_and_feedback(value: Any) -> Optional[Feedback]:
    """GEPA's metric result: a dict, an Example-like row (ours or DSPy's Prediction) or any object
    holding both ``score`` and ``feedback``; None for every other shape."""
    if isinstance(value, Mapping) or (hasattr(value, "get") and hasattr(value, "__contains__")):
        if "score" not in value or "feedback" not in value:
            return None
        score, text = value.get("score"), value.get("feedback")
    elif hasattr(value, "score") and hasattr(value, "feedback") and not isinstance(value, Feedback):
        score, text = value.score, value.feedback
    else:
        return None
    if isinstance(score, bool):
        score = float(score)
    if not isinstance(score, (int, float)):
        raise TypeError(f"a guide's score must be a number, got {score!r:.60}")
    return Feedback(text="" if text is None else str(text), score=float(score))


def as_guide(guide: Any) -> Guide:
    if isinstance(guide, Guide):
        return guide
    if callable(guide):
        return Metric(guide) if _is_metric(guide) else FunctionGuide(guide)
    raise TypeError(f"guide must be a trace_opt Guide or a function (output, target) -> feedback, got {type(guide).__name__}")


class _Verdict(BaseModel):
    feedback: str = Field(description="what is wrong or right, and how to improve")
    score: float = Field(ge=0.0, le=1.0, description="0 = wrong, 1 = perfect")


class LLMJudge(Guide):
    """An LLM grades the output against the target with a rubric (score in [0, 1] and words)."""

    def __init__(self, llm: Any = None, rubric: str = "Is the output correct and complete given the target?") -> None:
        self._llm = llm
        self.rubric = rubric

    @property
    def llm(self) -> Any:
        if self._llm is None:
            from ..llm import LLM

            self._llm = LLM()
        return self._llm

    def __call__(self, output: Any, target: Any) -> Feedback:
        target = target_value(target)
        messages = [
            {"role": "system", "content": "You grade outputs of a program. Be strict and brief."},
            {"role": "user", "content": f"Rubric: {self.rubric}\nTarget: {target!r}\nOutput: {output!r}\n"
                                        'Reply with a JSON object: "feedback" (a sentence) and "score" (0 to 1).'},
        ]
        verdict: Optional[_Verdict] = self.llm.structured(messages, schema=_Verdict)
        return Feedback(text=verdict.feedback, score=verdict.score)
