"""What the search optimizers share: reading the score of the last evaluation from feedback,
mapping bounded numbers to [0, 1], remembering the best values seen, and saving it all."""
from __future__ import annotations

import copy
import math
import random
import warnings
from typing import Any, Dict, Iterable, List, Optional, Tuple

from ...graph import Parameter
from ..base import Optimizer
from ..feedback import feedback_records
from ..report import Candidate, Proposal, StepReport


class ScoreSearch(Optimizer):
    """Base of ask/tell search: ``step()`` reads the score of the values just evaluated and
    sets the next ones. ``self.search`` holds the optimizer-wide state (saved by state_dict)."""

    kinds: Tuple[str, ...] = ("number",)

    def __init__(self, params: Iterable[Any], defaults: Dict[str, Any], seed: Optional[int]) -> None:
        super().__init__(params, defaults)
        self.rng = random.Random(seed)
        self.search: Dict[str, Any] = {"evaluations": 0, "best_score": None, "best_values": None}
        self._consumed: List[Any] = []  # records read by the last step; held so their ids stay unique

    def check_parameter(self, param: Any) -> None:
        super().check_parameter(param)
        name = type(self).__name__
        if param.kind not in self.kinds:
            raise TypeError(f"{name} searches {' and '.join(self.kinds)} parameters; {param.name!r} is {param.kind}")
        if param.kind == "number":
            bounds = param.bounds
            if bounds is None or bounds[0] is None or bounds[1] is None:
                raise ValueError(f"{name} needs finite bounds=(low, high) on number parameter {param.name!r}, "
                                 f"got {bounds}")

    # -- the step --------------------------------------------------------------------------
    def step(self, *args: Any, **kwargs: Any) -> StepReport:
        """Read the score of the values just evaluated and set the next ones (``search_step``);
        the report holds the score and the values set, or why nothing changed."""
        params = self.parameters()
        before = [p.data for p in params]
        score = self.search_step(*args, **kwargs)
        moved = [p for p, old in zip(params, before) if not p.spec.same(p.data, old)]
        return StepReport(
            skipped=None if score is not None else "no score arrived in the feedback (send backward a number or "
                                                   "Feedback(score=...)); nothing changed",
            score=score, optimizer=type(self).__name__, updated={p.name: p.data for p in moved},
            candidates=[Candidate({p: p.data for p in moved},
                                  [Proposal(p.name, p.data, True, "the next value to evaluate") for p in moved],
                                  score=score)] if moved else [])

    def search_step(self, *args: Any) -> Optional[float]:
        """Subclasses: take the score of the values just evaluated (``take_score``), set the next
        ones, return the score (None when none arrived)."""
        raise NotImplementedError

    # -- scores --------------------------------------------------------------------------
    def read_score(self) -> Optional[float]:
        """Mean score of the feedback that arrived since the last step (each backward counted
        once, however many parameters it reached); None when none carried a score."""
        consumed = {id(r) for r in self._consumed}
        params = self.parameters()
        scores = [r.feedback.score for r in feedback_records(params)
                  if r.feedback.score is not None and id(r) not in consumed]
        self._consumed = [record for param in params for record in param.feedback]
        return math.fsum(scores) / len(scores) if scores else None

    def take_score(self) -> Optional[float]:
        """The score of the values just evaluated, counted toward the best; None (with a warning)
        when no score arrived."""
        score = self.read_score()
        if not self._require_score(score):
            return None
        self._record(score)
        return score

    def _require_score(self, score: Optional[float]) -> bool:
        if score is not None:
            return True
        warnings.warn(f"{type(self).__name__}.step(): no score arrived for the values just evaluated (send "
                      "backward a number or Feedback(score=...)); nothing changed", RuntimeWarning, stacklevel=5)
        return False

    def _record(self, score: float) -> None:
        """Count an evaluation of the current values and keep them if they scored best so far."""
        self.search["evaluations"] += 1
        best = self.search["best_score"]
        if best is None or score > best:
            self.search["best_score"] = score
            self.search["best_values"] = [copy.deepcopy(p.data) for p in self.parameters()]

    @property
    def best_score(self) -> Optional[float]:
        return self.search["best_score"]

    def best_values(self) -> Dict[Parameter, Any]:
        """Parameter -> its value in the best-scoring evaluation so far (empty before any)."""
        values = self.search["best_values"]
        return dict(zip(self.parameters(), values)) if values is not None else {}

    def apply_best(self) -> None:
        """Set every parameter to its value in the best-scoring evaluation (e.g. after training)."""
        for param, value in self.best_values().items():
            param.data = value

    # -- bounded numbers as [0, 1] -----------------------------------------------------------
    @staticmethod
    def unit_of(param: Parameter) -> float:
        low, high = param.bounds
        return (param.data - low) / (high - low) if high > low else 0.5

    @staticmethod
    def min_step(param: Parameter) -> float:
        """The smallest move that changes an integer parameter, in unit coordinates (0 for floats)."""
        low, high = param.bounds
        return 1.0 / (high - low) if param.spec.integer and high > low else 0.0

    @staticmethod
    def set_unit(param: Parameter, unit: float) -> float:
        """Set the parameter at ``unit`` (clipped to [0, 1], rounded for integers); returns
        the unit actually set."""
        low, high = param.bounds
        unit = min(1.0, max(0.0, unit))
        value = low + unit * (high - low)
        if param.spec.integer:
            value = int(min(high, max(low, round(value))))
        else:
            value = min(high, max(low, value))
        param.data = value
        return (value - low) / (high - low) if high > low else 0.5

    def estimate(self) -> Dict[Parameter, float]:
        """Number searches: parameter -> the current estimate (the centre of the perturbations)."""
        return {p: p.bounds[0] + self.state[p]["theta"] * (p.bounds[1] - p.bounds[0]) for p in self.parameters()}

    # -- saving ----------------------------------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        saved = super().state_dict()
        saved["search"] = copy.deepcopy(self.search)
        saved["rng"] = self.rng.getstate()
        return saved

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        if not isinstance(state_dict, dict) or "search" not in state_dict or "rng" not in state_dict:
            raise ValueError(f"not a {type(self).__name__} state_dict: it lacks 'search' and 'rng'")
        super().load_state_dict(state_dict)
        self.search = copy.deepcopy(state_dict["search"])
        self.rng.setstate(state_dict["rng"])
        self._consumed = []
