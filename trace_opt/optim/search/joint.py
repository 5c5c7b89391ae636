"""MIPRO: instructions and demonstrations searched together, MIPROv2-style.

A good instruction with bad examples, or good examples under a bad instruction, can each lose
alone; MIPROv2 (Opsahl-Ong et al., 2024, in DSPy) therefore proposes several of each and
searches the combinations with a Bayesian optimizer over validation scores. Here: each step
asks an LLM optimizer (OptoPrime by default) for instruction candidates from this step's
feedback, BootstrapFewShot for demonstration sets (labelled rows, traced calls of rollouts
that scored well), and lets Optuna's TPE pick combinations to score with ``evaluate``; the best
is installed only when it beats the current values by more than ``min_delta`` (a tie keeps
them). ``optuna`` is imported here only (the ``search`` extra).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from ...graph import Parameter
from ..base import Optimizer
from ..report import Candidate, Proposal, StepReport
from ..selection import score, score_with
from .few_shot import BootstrapFewShot
from .optuna_search import _import_optuna


class MIPRO(Optimizer):
    """Joint search over text parameters (instructions) and ``to.Demos`` (demonstrations)."""

    def __init__(self, params: Iterable[Any], llm: Any = None, trainset: Sequence[Any] = (), *,
                 num_instructions: int = 3, num_demo_sets: int = 4, trials: int = 8, min_delta: float = 0.0,
                 threshold: float = 1.0, seed: Optional[int] = 0, proposer: Any = None) -> None:
        super().__init__(params, {})
        for name, value in (("num_instructions", num_instructions), ("num_demo_sets", num_demo_sets),
                            ("trials", trials)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        texts = [p for p in self.parameters() if p.kind == "text"]
        demos = [p for p in self.parameters() if p.kind == "demos"]
        if proposer is None and texts:
            from ..llm.optoprime import OptoPrime

            proposer = OptoPrime(texts, llm=llm, num_candidates=num_instructions)
        self.proposer = proposer
        self.demos = BootstrapFewShot(demos, trainset, threshold=threshold, num_candidates=num_demo_sets,
                                      seed=seed) if demos else None
        self.num_instructions, self.trials, self.min_delta, self.seed = num_instructions, trials, min_delta, seed

    def check_parameter(self, param: Any) -> None:
        super().check_parameter(param)
        if param.kind not in ("text", "demos"):
            raise TypeError(f"MIPRO searches instructions (text) and demonstrations (to.Demos); "
                            f"{param.name!r} is {param.kind}")

    def step(self, evaluate: Optional[Callable[[], float]] = None) -> StepReport:
        """Propose instructions and demonstration sets, search their combinations on ``evaluate``."""
        name = type(self).__name__
        if evaluate is None:
            return StepReport(skipped="MIPRO needs step(evaluate=...): it chooses combinations by their score",
                              optimizer=name)
        notes: List[str] = []
        options = self._options(notes)
        if all(len(values) == 1 for values in options.values()):
            return StepReport(skipped="nothing to search: no instruction or demonstration was proposed",
                              notes=notes, optimizer=name)
        baseline = score(evaluate)
        report = StepReport(baseline_score=baseline, notes=notes, optimizer=name)
        best, best_score = None, baseline + self.min_delta
        for choice in self._search(options, evaluate, report):
            candidate = report.candidates[choice]
            if candidate.score > best_score:
                best, best_score = choice, candidate.score
        report.chosen = best
        if best is not None:
            for param, value in report.candidates[best].changes.items():
                param.data = value
                report.updated[param.name] = value
        for index, candidate in enumerate(report.candidates):
            for proposal in candidate.proposals:
                proposal.accepted = index == best
                proposal.reason = "" if index == best else "did not beat the current values on evaluation"
        return report

    def _options(self, notes: List[str]) -> Dict[Parameter, List[Any]]:
        """Each parameter's values to combine: its current one first, then the proposed ones."""
        options = {p: [p.data] for p in self.parameters() if p.trainable}
        proposed: List[Candidate] = []
        asked = [p for p in self.proposer.parameters() if p.trainable and p.feedback] if self.proposer else []
        if asked:
            from ..llm.base import no_proposal_errors

            try:   # proposals only: nothing is installed until a combination wins
                proposed += self.proposer.propose(asked, self.num_instructions, [])
            except no_proposal_errors() as exc:
                notes.append(f"no instruction proposed: {type(exc).__name__}: {str(exc)[:200]}")
        if self.demos is not None:
            demos = [p for p in self.demos.parameters() if p.trainable]
            for param in demos:
                self.demos.harvest(param)
            proposed += self.demos.candidates(demos)
        for candidate in proposed:
            for param, value in candidate.changes.items():
                if all(not param.spec.same(value, v) for v in options[param]):
                    options[param].append(value)
        return options

    def _search(self, options: Dict[Parameter, List[Any]], evaluate: Callable[[], float],
                report: StepReport) -> List[int]:
        """Score up to ``trials`` combinations (TPE over the option indices); their candidate indices."""
        optuna = _import_optuna()
        params = list(options)
        study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=self.seed))
        space = {f"v{i}": optuna.distributions.CategoricalDistribution(list(range(len(options[p]))))
                 for i, p in enumerate(params)}
        seen: Dict[Tuple[int, ...], int] = {}
        total = 1
        for p in params:
            total *= len(options[p])
        for _ in range(min(self.trials, total - 1) * 3):
            if len(seen) >= min(self.trials, total - 1):
                break
            trial = study.ask(space)
            picks = tuple(trial.params[f"v{i}"] for i in range(len(params)))
            if picks in seen or not any(picks):
                study.tell(trial, report.candidates[seen[picks]].score if picks in seen else report.baseline_score)
                continue
            changes = {p: options[p][k] for p, k in zip(params, picks) if k}
            candidate = Candidate(changes, [Proposal(p.name, v, True) for p, v in changes.items()],
                                  reasoning="instruction x demonstrations")
            candidate.score = score_with(changes, evaluate)
            report.candidates.append(candidate)
            seen[picks] = len(report.candidates) - 1
            study.tell(trial, candidate.score)
        return list(seen.values())

    def state_dict(self) -> Dict[str, Any]:
        saved = super().state_dict()
        saved["demos"] = self.demos.state_dict() if self.demos is not None else None
        saved["proposer"] = self.proposer.state_dict() if self.proposer is not None else None
        return saved

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        if self.demos is not None and state_dict.get("demos") is not None:
            self.demos.load_state_dict(state_dict["demos"])
        if self.proposer is not None and state_dict.get("proposer") is not None:
            self.proposer.load_state_dict(state_dict["proposer"])

