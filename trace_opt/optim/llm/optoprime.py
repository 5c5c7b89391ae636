"""OptoPrime: the trace as a code-like problem, one LLM call per candidate update.

After "Trace is the New AutoDiff" (Cheng et al., 2024): the LLM sees the instruction, the
code that produced the outputs, the documentation of each operation, the variables, the
inputs and intermediate values, the outputs and the feedback, and answers with new values
for the variables. Unlike Trace's OptoPrime the prompt is bounded (``max_prompt_tokens``,
see problem.py), the reply is schema-constrained JSON, and building the prompt is linear in
the size of the subgraph.
"""
from __future__ import annotations

from typing import Any, List, Optional

from ...graph import Parameter
from ..feedback import feedback_records
from .base import Candidate, LLMOptimizer
from .code_check import CodeTrial
from .problem import SECTION_TITLES, build_problem
from .suggestions import REPLY_INSTRUCTIONS, variable_keys
from .tokens import estimate_tokens

SYSTEM = (
    "You improve a program by changing its variables. You see its trace: #Code (how the outputs were "
    "computed), #Documentation (what each operation does), #Variables (what you may change, with kinds "
    "and limits), #Inputs and #Others (values seen in the run), #Outputs and the #Feedback on them. "
    "Propose new values for the variables that address the feedback."
)
DEFAULT_PROMPT_TOKENS = 6000


class OptoPrime(LLMOptimizer):
    """LLM optimizer for text, code, JSON, bounded numbers and choices, from a trace's feedback."""

    default_prompt_tokens = DEFAULT_PROMPT_TOKENS
    scaffolding = SYSTEM + " " + SECTION_TITLES

    def __init__(self, params: Any, llm: Any = None, *, max_prompt_tokens: Optional[int] = None,
                 num_candidates: int = 1, candidate_temperature: float = 0.8, memory_size: int = 3,
                 objective: Optional[str] = None, code_trial: Optional[CodeTrial] = None) -> None:
        super().__init__(params, llm, num_candidates=num_candidates, candidate_temperature=candidate_temperature,
                         memory_size=memory_size, objective=objective, code_trial=code_trial,
                         max_prompt_tokens=max_prompt_tokens)
        self.last_prompt: Optional[List[dict]] = None

    def build_prompt(self, params: List[Parameter], notes: List[str]) -> tuple:
        """(messages, keys): the chat messages for this step and each parameter's key in them."""
        keys = variable_keys(params)
        records = feedback_records(params)
        fixed = estimate_tokens(SYSTEM) + estimate_tokens(REPLY_INSTRUCTIONS) + 16  # role markers and separators
        problem = build_problem(keys, records, instruction=self.objective, max_tokens=self.max_prompt_tokens,
                                memory=self.memory + notes, reserved_tokens=fixed)
        messages = [{"role": "system", "content": SYSTEM},
                    {"role": "user", "content": problem.render() + "\n\n" + REPLY_INSTRUCTIONS}]
        return messages, keys

    def propose(self, params: List[Parameter], count: int, notes: List[str]) -> List[Candidate]:
        messages, keys = self.build_prompt(params, notes)   # PromptTooLarge: the step is skipped, saying why
        self.last_prompt = messages
        return self.suggest(messages, keys, count)
