"""LLMOptimizer: the step every LLM optimizer shares; the parts it is made of live beside it.

One step: gather the feedback that reached the parameters, let the code guard revert code that
crashed since the last step, ask the LLM for one or more candidate updates (the subclass builds
the prompt: ``propose``), check every suggested value for its kind (suggestions.py) and vet
proposed code (code_guard.py), choose a candidate (selection.py: the best on ``evaluate`` when
one is given) and install it. A reply that is unusable after the LLM layer's re-asks, or a
provider failure, skips the step with the reason logged and reported; the parameters are then
unchanged. ``BudgetExceeded`` and a model that cannot answer are not caught: they end the run.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Dict, List, Optional

from pydantic import ValidationError

from ...graph import Parameter, ancestors
from ..base import Optimizer
from ..feedback import feedback_records, feedback_texts
from ..report import Candidate, StepReport
from .code_check import CodeTrial
from .code_guard import CodeGuard
from .problem import PromptTooLarge
from ..selection import choose
from .suggestions import REPLY_INSTRUCTIONS, review, suggested_values, suggestion_model
from .junk import junk_reason
from .tokens import WHOLE_VALUE_CHARS, elide, prompt_budget, reply_budget

log = logging.getLogger("trace_opt.optim")


def no_proposal_errors() -> tuple:
    """What ``propose`` raises when it has no usable proposal: no usable reply, or no room for one
    in the prompt. Anything else is a bug and is not caught."""
    from ...llm import LLMError

    return (LLMError, ValidationError, PromptTooLarge)


def run_inputs(params: List[Parameter]) -> List[str]:
    """The text inputs of the runs whose feedback reached ``params`` (the leaves of their traces
    that are not parameters): a proposed value that copies one is a training example, not a prompt."""
    seen, found = set(), []
    for record in feedback_records(params):
        for current in ancestors(record.output):
            if (not current.parents and not isinstance(current, Parameter) and isinstance(current.data, str)
                    and id(current) not in seen):
                seen.add(id(current))
                found.append(current.data)
    return found


class LLMOptimizer(Optimizer):
    """Base of OptoPrime, TextGrad and OPRO; subclasses implement ``propose``."""

    default_prompt_tokens = 6000   # a prompt's size when the LLM's window does not ask for less
    scaffolding = ""               # the subclass's fixed prompt wording: a text value made of it is junk (junk.py)

    def __init__(self, params: Any, llm: Any = None, *, num_candidates: int = 1, candidate_temperature: float = 0.8,
                 memory_size: int = 3, objective: Optional[str] = None, defaults: Optional[Dict[str, Any]] = None,
                 code_trial: Optional[CodeTrial] = None, max_prompt_tokens: Optional[int] = None) -> None:
        super().__init__(params, defaults or {})
        if max_prompt_tokens is not None and (isinstance(max_prompt_tokens, bool) or not isinstance(max_prompt_tokens, int)
                                              or max_prompt_tokens < 200):
            raise ValueError(f"max_prompt_tokens must be an int >= 200, got {max_prompt_tokens!r}")
        self._max_prompt_tokens = max_prompt_tokens
        if code_trial is not None and not isinstance(code_trial, CodeTrial):
            raise TypeError(f"code_trial must be a CodeTrial, got {type(code_trial).__name__}")
        if not isinstance(num_candidates, int) or num_candidates < 1:
            raise ValueError(f"num_candidates must be a positive int, got {num_candidates!r}")
        if not isinstance(memory_size, int) or memory_size < 0:
            raise ValueError(f"memory_size must be an int >= 0, got {memory_size!r}")
        self._llm = llm
        self.num_candidates = num_candidates
        self.candidate_temperature = candidate_temperature
        self.memory_size = memory_size
        self.objective = objective or "Change the values of the #Variables so that the #Outputs satisfy the #Feedback."
        self.memory: List[str] = []
        self.code_trial = code_trial or CodeTrial()
        self.code_guard = CodeGuard(self.code_trial, type(self).__name__, self.state)

    @property
    def max_prompt_tokens(self) -> int:
        """Given, or ``default_prompt_tokens`` capped at the LLM's window's prompt share (tokens.py)."""
        if self._max_prompt_tokens is not None:
            return self._max_prompt_tokens
        return prompt_budget(self.llm, self.default_prompt_tokens)

    @property
    def rejections(self) -> List[str]:
        """Why code proposed at the last step was refused (told to the LLM at the next)."""
        return self.code_guard.rejections

    def check_parameter(self, param: Any) -> None:
        super().check_parameter(param)
        if param.kind == "tensor":
            raise TypeError(f"{type(self).__name__} cannot update the tensor parameter {param.name!r}; "
                            "give it to a numeric optimizer (to.optim.Adam) or use to.optim.auto")
        if param.kind == "demos":
            raise TypeError(f"{type(self).__name__} does not write demonstrations ({param.name!r}); give them to "
                            "to.optim.BootstrapFewShot or use to.optim.auto")

    @property
    def llm(self) -> Any:
        """The LLM that proposes updates; the embedded default model when none was given."""
        if self._llm is None:
            from ...llm import LLM

            self._llm = LLM()
        return self._llm

    # -- the step --------------------------------------------------------------------------
    def propose(self, params: List[Parameter], count: int, notes: List[str]) -> List[Candidate]:
        """Ask the LLM for ``count`` candidate updates of ``params`` (subclasses)."""
        raise NotImplementedError

    def step(self, evaluate: Optional[Callable[[], float]] = None) -> StepReport:
        """Update the parameters from their feedback. ``evaluate`` (optional) scores the current
        parameter values, higher is better: candidates (and each change of a multi-change
        candidate, alone) are then tried and the best kept; none unless it beats the current values."""
        from ...llm import BudgetExceeded, ModelUnreachable

        params = [p for p in self.parameters() if p.trainable and p.feedback]
        if not params:
            return self._skip("no feedback reached the parameters (call backward first)")
        notes = self.code_guard.take_rejections() + self.code_guard.revert_crashed(params)
        self._run_inputs = run_inputs(params)
        try:
            candidates = self.propose(params, self.num_candidates, notes)
        except (BudgetExceeded, ModelUnreachable):  # a run-level stop, not a bad proposal
            raise
        except no_proposal_errors() as exc:
            return self._skip(f"no usable proposal: {type(exc).__name__}: {elide(str(exc), 300)}", notes)
        report = StepReport(candidates=candidates, notes=notes, optimizer=type(self).__name__)
        choose(report, evaluate)
        self._remember(params, report)
        if report.chosen is not None:
            for param, value in candidates[report.chosen].changes.items():
                self.code_guard.install(param, value)
                report.updated[param.name] = value
        for proposal in report.proposals:
            if not proposal.accepted:
                log.info("%s: suggestion for %s not used: %s", type(self).__name__, proposal.name, proposal.reason)
        if not report.updated:
            log.info("%s: step kept the parameters unchanged", type(self).__name__)
        return report

    def suggest(self, messages: List[dict], keys: Dict[Parameter, str], count: int) -> List[Candidate]:
        """Ask for ``count`` candidates: the first at the LLM's own settings, the others sampled, each
        with its own seed so they differ and still replay identically. A failed candidate is
        dropped; the step fails only when all do."""
        from ...llm import BudgetExceeded, LLMError, ModelUnreachable

        schema = suggestion_model(keys, constrained=bool(getattr(self.llm, "constrains_json_schema", False)))
        limit = reply_budget(self.llm)
        candidates, error = [], None
        for index in range(count):
            options = dict(limit) if index == 0 else {**limit, "temperature": self.candidate_temperature, "seed": index}
            try:
                reply = self.llm.structured(messages, schema=schema, **options)
            except (BudgetExceeded, ModelUnreachable):
                raise
            except LLMError as exc:
                error = exc
                log.info("%s: candidate %d failed: %s", type(self).__name__, index, exc)
                if getattr(exc, "kind", None) == "timed out":
                    break  # the model is too slow for this step: do not queue more requests behind it
                continue
            values, unknown = suggested_values(reply)
            candidates.append(self.candidate_from(keys, values, unknown, reasoning=reply.reasoning))
        if not candidates and error is not None:
            raise error
        return candidates

    def candidate_from(self, keys: Dict[Parameter, str], values: Dict[str, Any], unknown: List[str],
                       reasoning: str = "") -> Candidate:
        changes, proposals = review(keys, values, unknown)
        for param in [p for p in changes if p.kind == "text"]:
            reason = junk_reason(changes[param], current=str(param.data), copies_of=getattr(self, "_run_inputs", ()),
                                 scaffolding=" ".join((self.scaffolding, self.objective, REPLY_INSTRUCTIONS)))
            if reason is not None:
                del changes[param]
                for proposal in proposals:
                    if proposal.name == param.name and proposal.accepted:
                        proposal.accepted, proposal.reason = False, f"rejected: {reason}"
        return self.code_guard.vet(Candidate(changes, proposals, reasoning=reasoning))

    def _skip(self, reason: str, notes: Optional[List[str]] = None) -> StepReport:
        log.warning("%s: step skipped: %s", type(self).__name__, reason)
        return StepReport(skipped=reason, notes=notes or [], optimizer=type(self).__name__)

    def _remember(self, params: List[Parameter], report: StepReport) -> None:
        if not self.memory_size:
            return
        values = "; ".join(f"{p.name}={elide(repr(p.data), WHOLE_VALUE_CHARS)}" for p in params)
        feedback = " | ".join(feedback_texts(params))
        self.memory.append(f"- {values} -> feedback: {elide(feedback, 160)}")
        del self.memory[:-self.memory_size]

    def state_dict(self) -> Dict[str, Any]:
        state = super().state_dict()
        state["memory"] = list(self.memory)
        state["rejections"] = list(self.rejections)
        return state

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self.memory = list(state_dict.get("memory", []))
        self.code_guard = CodeGuard(self.code_trial, type(self).__name__, self.state)
        self.code_guard.rejections = list(state_dict.get("rejections", []))
        self.code_guard.adopt(self.parameters())  # a resumed run's code was accepted under this policy

