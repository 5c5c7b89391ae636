"""Guides: what turns an output and its target into feedback (words and a score).

A plain function is a guide too: it may return a ``Feedback``, a number (the score), a str
(the words), or a ``(score, text)`` pair. ``LLMJudge`` asks an LLM to grade against a rubric.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

from pydantic import BaseModel, Field

from ..graph import Feedback


class Guide:
    """Maps (output, target) to Feedback; higher scores are better."""

    def __call__(self, output: Any, target: Any) -> Feedback:
        raise NotImplementedError


class FunctionGuide(Guide):
    def __init__(self, fn: Callable[[Any, Any], Any]) -> None:
        self.fn = fn

    def __call__(self, output: Any, target: Any) -> Feedback:
        return to_feedback(self.fn(output, target))


def to_feedback(value: Any) -> Feedback:
    """Read what a guide function returned as Feedback, or say clearly what it returned.
    A dict of name -> number is a set of named scores; ``(dict, text)`` adds words to them."""
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


def as_guide(guide: Any) -> Guide:
    if isinstance(guide, Guide):
        return guide
    if callable(guide):
        return FunctionGuide(guide)
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
        messages = [
            {"role": "system", "content": "You grade outputs of a program. Be strict and brief."},
            {"role": "user", "content": f"Rubric: {self.rubric}\nTarget: {target!r}\nOutput: {output!r}\n"
                                        'Reply with a JSON object: "feedback" (a sentence) and "score" (0 to 1).'},
        ]
        verdict: Optional[_Verdict] = self.llm.structured(messages, schema=_Verdict)
        return Feedback(text=verdict.feedback, score=verdict.score)
