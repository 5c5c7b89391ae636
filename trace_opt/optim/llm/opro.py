"""OPRO: the LLM as optimizer over a history of tried values and their scores.

After "Large Language Models as Optimizers" (Yang et al., 2023): the meta-prompt lists the
values tried so far with their scores, in ascending order, and asks for new values that
score higher. A step's score is the mean of the ``Feedback.score`` values that reached the
parameters; text feedback is shown too. The history is bounded (best ``history_size`` kept).
"""
from __future__ import annotations

from statistics import mean
from typing import Any, Dict, List, Optional

from ...graph import Parameter
from ..feedback import feedback_records, feedback_scores
from .base import Candidate, LLMOptimizer
from .code_check import CodeTrial
from .problem import variable_line
from .suggestions import REPLY_INSTRUCTIONS, variable_keys
from .tokens import WHOLE_VALUE_CHARS, estimate_tokens, fit_tokens, elide

SYSTEM = "You are an optimizer. You propose new values for variables so that their score goes up."
PROPOSE = "Propose new values, different from all of the above, that get a higher score."
TRIED = "Values tried so far, lowest score first:"


class OPRO(LLMOptimizer):
    """History-of-scores LLM optimizer (needs feedback with scores; higher is better)."""

    default_prompt_tokens = 1200   # short prompts, one per operation or step
    scaffolding = " ".join((SYSTEM, PROPOSE, TRIED))

    def __init__(self, params: Any, llm: Any = None, *, history_size: int = 20, num_candidates: int = 1,
                 candidate_temperature: float = 0.8, objective: Optional[str] = None,
                 max_prompt_tokens: Optional[int] = None, code_trial: Optional[CodeTrial] = None) -> None:
        super().__init__(params, llm, num_candidates=num_candidates, candidate_temperature=candidate_temperature,
                         memory_size=0, objective=objective or "Find values of the variables that get a higher score.",
                         code_trial=code_trial, max_prompt_tokens=max_prompt_tokens)
        if not isinstance(history_size, int) or history_size < 1:
            raise ValueError(f"history_size must be a positive int, got {history_size!r}")
        self.history_size = history_size
        self.history: List[Dict[str, Any]] = []  # {"values": {name: repr}, "score": float, "feedback": str}

    def propose(self, params: List[Parameter], count: int, notes: List[str]) -> List[Candidate]:
        keys = variable_keys(params)
        scores = feedback_scores(params)
        texts = [text for text in dict.fromkeys(r.feedback.text for r in feedback_records(params)) if text]
        self._record({keys[p]: elide(repr(p.data), WHOLE_VALUE_CHARS) for p in params}, mean(scores) if scores else None,
                     " | ".join(texts))
        messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": self._meta_prompt(keys, notes)}]
        return self.suggest(messages, keys, count)

    def _record(self, values: Dict[str, str], score: Optional[float], feedback: str) -> None:
        self.history.append({"values": values, "score": score, "feedback": elide(feedback, 200)})
        scored = sorted((h for h in self.history if h["score"] is not None), key=lambda h: h["score"])
        unscored = [h for h in self.history if h["score"] is None]
        self.history = (unscored[-3:] + scored)[-self.history_size:]

    def _meta_prompt(self, keys: Dict[Parameter, str], notes: List[str]) -> str:
        head = [self.objective, "", "The variables:"] + [variable_line(key, p, width=WHOLE_VALUE_CHARS) for p, key in keys.items()]
        tail = notes + ["", PROPOSE,
                        REPLY_INSTRUCTIONS]
        tried = []
        for entry in self.history:
            shown = ", ".join(f"{k}={v}" for k, v in entry["values"].items())
            score = "no score" if entry["score"] is None else f"score {entry['score']:.3g}"
            tried.append(f"- {shown} -> {score}" + (f" (feedback: {entry['feedback']})" if entry["feedback"] else ""))
        while True:  # the lowest-scored tries go first when the prompt is over budget
            text = "\n".join(head + ["", TRIED] + tried + tail)
            if estimate_tokens(text) <= self.max_prompt_tokens or len(tried) <= 1:
                return fit_tokens(text, self.max_prompt_tokens)
            tried.pop(0)

    def state_dict(self) -> Dict[str, Any]:
        state = super().state_dict()
        state["history"] = [dict(h) for h in self.history]
        return state

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self.history = [dict(h) for h in state_dict.get("history", [])]
