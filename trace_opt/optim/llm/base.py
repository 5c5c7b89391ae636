"""LLMOptimizer: the flow every LLM optimizer shares.

One step: gather the feedback that reached the parameters, revert code that crashed since
the last step, ask the LLM for one or more candidate updates (the subclass builds the
prompt), check every suggested value for its kind, and keep a candidate — the best on
``evaluate`` when one is given, otherwise the one with the most valid changes. A reply that is
unusable after the LLM layer's re-asks, or a provider failure, skips the step with the
reason logged and reported; the parameters are then unchanged. ``BudgetExceeded`` is not
caught: it stops the run before the call that would pass the budget.
"""
from __future__ import annotations

import logging
import math
from typing import Any, Callable, Dict, List, Optional

from ...graph import ExceptionNode, Parameter
from ...graph.errors import stops_run
from ...sandbox import host_builtins
from ..base import Optimizer
from ..report import Candidate, StepReport
from .code_check import CodeTrial, recorded_calls, trial_error
from ..report import Proposal
from .suggestions import review, suggested_values, suggestion_model
from .tokens import truncate

log = logging.getLogger("trace_opt.optim")


class LLMOptimizer(Optimizer):
    """Base of OptoPrime, TextGrad and OPRO; subclasses implement ``propose``."""

    def __init__(self, params: Any, llm: Any = None, *, num_candidates: int = 1, candidate_temperature: float = 0.8,
                 memory_size: int = 3, objective: Optional[str] = None, defaults: Optional[Dict[str, Any]] = None,
                 code_trial: Optional[CodeTrial] = None) -> None:
        super().__init__(params, defaults or {})
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
        for param in self.parameters():  # accepted code keeps the policy's limits when it runs here
            if param.kind == "code":
                param.code_builtins = None if self.code_trial.trusted else host_builtins(self.code_trial.policy)
        self.rejections: List[str] = []  # why code proposed at the last step was refused: told at the next

    def check_parameter(self, param: Any) -> None:
        super().check_parameter(param)
        if param.kind == "tensor":
            raise TypeError(f"{type(self).__name__} cannot update the tensor parameter {param.name!r}; "
                            "give it to a numeric optimizer (to.optim.Adam) or use to.optim.auto")

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
        from ...llm import BudgetExceeded, LLMError, ModelUnreachable

        params = [p for p in self.parameters() if p.trainable and p.feedback]
        if not params:
            return self._skip("no feedback reached the parameters (call backward first)")
        notes = self.rejections + self._revert_crashed_code(params)
        self.rejections = []
        try:
            candidates = self.propose(params, self.num_candidates, notes)
        except (BudgetExceeded, ModelUnreachable):  # a run-level stop, not a bad proposal
            raise
        except (LLMError, ValueError) as exc:
            return self._skip(f"no usable proposal: {type(exc).__name__}: {truncate(str(exc), 300)}", notes)
        report = StepReport(candidates=candidates, notes=notes, optimizer=type(self).__name__)
        self._choose(report, evaluate)
        self._remember(params, report)
        if report.chosen is not None:
            for param, value in candidates[report.chosen].changes.items():
                if param.kind == "code":
                    self.state.setdefault(param, {}).update(previous=param.data, proposed=value)
                param.data = value
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

        schema = suggestion_model(keys, constrained=bool(getattr(self.llm, "local_server", False)))
        window = getattr(self.llm, "context_window", None)
        # The reply's share of a known context window (the prompt keeps under 60% of it).
        limit = {"max_tokens": min(4096, int(window * 0.35))} if window else {}
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
        for proposal in proposals:
            param = next((p for p in changes if p.name == proposal.name), None)
            if param is None or param.kind != "code":
                continue
            error = trial_error(changes[param], recorded_calls(param), self.code_trial)
            if error is not None:
                del changes[param]
                proposal.accepted, proposal.reason = False, f"rejected: {error}"
                self.rejections.append(f"The code proposed for {param.name} was rejected: {error}.")
        return Candidate(changes, proposals, reasoning=reasoning)

    def _skip(self, reason: str, notes: Optional[List[str]] = None) -> StepReport:
        log.warning("%s: step skipped: %s", type(self).__name__, reason)
        return StepReport(skipped=reason, notes=notes or [], optimizer=type(self).__name__)

    def _choose(self, report: StepReport, evaluate: Optional[Callable[[], float]]) -> None:
        usable = [i for i, c in enumerate(report.candidates) if c.changes]
        if not usable:
            return
        if evaluate is None:  # no data to judge by: the candidate most of whose suggestion was valid
            report.chosen = max(usable, key=lambda i: (len(report.candidates[i].changes), -i))
            return
        report.baseline_score = _score(evaluate)
        # A candidate's good change can hide behind a bad one: each change of a multi-change
        # candidate is also tried alone (evaluations of repeated settings are cheap when cached).
        tried = {self._signature(report.candidates[i].changes) for i in usable}
        for index in list(usable):
            candidate = report.candidates[index]
            if len(candidate.changes) < 2:
                continue
            for param, value in candidate.changes.items():
                single = {param: value}
                if self._signature(single) in tried:
                    continue
                tried.add(self._signature(single))
                report.candidates.append(Candidate(single, [Proposal(param.name, value, True)],
                                                   reasoning=f"one change of candidate {index + 1}", origin=index))
                usable.append(len(report.candidates) - 1)
        best, best_score = None, report.baseline_score
        for index in usable:
            candidate = report.candidates[index]
            previous = {p: p.data for p in candidate.changes}
            try:
                for param, value in candidate.changes.items():
                    param.data = value
                candidate.score = _score(evaluate)
            finally:
                for param, value in previous.items():
                    param.data = value
            if candidate.score > best_score:
                best, best_score = index, candidate.score
        report.chosen = best
        for index, candidate in enumerate(report.candidates):
            if index == best:
                continue
            for proposal in candidate.proposals:
                if proposal.accepted and not (best is not None and self._kept(proposal, report.candidates[best])):
                    proposal.accepted, proposal.reason = False, "did not beat the current values on evaluation"

    @staticmethod
    def _signature(changes: Dict[Parameter, Any]) -> frozenset:
        return frozenset((id(p), repr(v)) for p, v in changes.items())

    @staticmethod
    def _kept(proposal: Proposal, chosen: Candidate) -> bool:
        return any(p.name == proposal.name and p.spec.same(v, proposal.value) for p, v in chosen.changes.items())

    def _revert_crashed_code(self, params: List[Parameter]) -> List[str]:
        """Code this optimizer installed that then raised is put back; the error becomes a note."""
        notes = []
        for param in params:
            state = self.state.get(param, {})
            if param.kind != "code" or "previous" not in state or param.data != state.get("proposed"):
                continue
            crash = next((r.output for r in param.feedback
                          if isinstance(r.output, ExceptionNode) and param in r.output.parents), None)
            if crash is not None:
                param.data = state.pop("previous")
                state.pop("proposed", None)
                notes.append(f"The code last proposed for {param.name} raised {crash.data}; it was reverted.")
                log.info("%s: reverted %s after it raised %s", type(self).__name__, param.name, crash.data)
        return notes

    def _remember(self, params: List[Parameter], report: StepReport) -> None:
        if not self.memory_size:
            return
        values = "; ".join(f"{p.name}={truncate(repr(p.data), 80)}" for p in params)
        feedback = " | ".join(dict.fromkeys(str(r.feedback) for p in params for r in p.feedback))
        self.memory.append(f"- {values} -> feedback: {truncate(feedback, 160)}")
        del self.memory[:-self.memory_size]

    def state_dict(self) -> Dict[str, Any]:
        state = super().state_dict()
        state["memory"] = list(self.memory)
        state["rejections"] = list(self.rejections)
        return state

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self.memory = list(state_dict.get("memory", []))
        self.rejections = list(state_dict.get("rejections", []))


def _score(evaluate: Callable[[], float]) -> float:
    try:
        value = float(evaluate())
    except Exception as exc:  # a candidate that breaks the workflow loses; it does not stop training
        if stops_run(exc):  # ... unless the model itself is gone
            raise
        log.info("evaluation raised %s: %s", type(exc).__name__, exc)
        return -math.inf
    return value if math.isfinite(value) else -math.inf
