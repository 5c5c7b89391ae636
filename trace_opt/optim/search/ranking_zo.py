"""Ranking zeroth-order search: learns from which of two outputs is better, nothing more.

After Tang, Zhao, Li, Poon, Wang, Liu (2023), "Zeroth-Order Optimization Meets Human Feedback:
Provable Learning via Ranking Oracles" (ZO-RankSGD, with m = 2 points per query). Two random
Gaussian perturbations u1, u2 of the current point x are evaluated; the better one says
which way to go: x += lr * (u_better - u_worse). The paper shows this direction is, in
expectation, aligned with the gradient of any monotone transform of the objective, so
scores need only be ordinal, and a person's "the second is better" is enough.

Coordinates are the parameters' bounds mapped to [0, 1]. Ask/tell: the first ``step()``
reads the initial evaluation (its score is optional); then steps go in pairs: the first of
a pair only notes the output, the second compares the two, from their scores or from
``step(prefer="first" | "second")``, and moves.
"""
from __future__ import annotations

from typing import Any, Iterable, Optional

from ._base import ScoreSearch

__all__ = ["RankingZO"]

_PREFER = {"first": 1, "second": 2, 0: 1, 1: 2}


class RankingZO(ScoreSearch):
    """ZO-RankSGD over bounded number Parameters, from pairwise preferences.

    Args:
        params: number Parameters with finite ``bounds`` (or parameter groups).
        lr: step size, in fractions of each range (0.1); the k-th comparison moves by
            lr / (k + 1)^decay (``decay`` 0.5): a preference says which way, not how far, so
            steps must shrink for the search to settle.
        smoothing: the perturbation scale mu, in fractions of each range (0.1).
        seed: for the random directions.
    """

    def __init__(self, params: Iterable[Any], lr: float = 0.1, smoothing: float = 0.1, *, decay: float = 0.5,
                 seed: Optional[int] = None) -> None:
        if not (lr > 0 and 0 < smoothing <= 0.5 and decay >= 0):
            raise ValueError(f"RankingZO: lr must be > 0, smoothing in (0, 0.5] and decay >= 0, got {lr}, {smoothing}, {decay}")
        super().__init__(params, dict(lr=lr, smoothing=smoothing), seed)
        self.search.update(phase="start", first_score=None, comparisons=0, ties=0, decay=decay)
        for param in self.parameters():
            self.state[param] = {"theta": self.unit_of(param), "u1": 0.0, "u2": 0.0, "x1": None, "x2": None}

    @property
    def compares_next(self) -> bool:
        """True when the next step() compares the last two outputs (it takes ``prefer=``)."""
        return self.search["phase"] == "second"

    def search_step(self, prefer: Any = None) -> Optional[float]:
        """Read what arrived for the values just evaluated and set the next ones.

        ``prefer``: on the step that closes a pair (``compares_next``), "first" or "second"
        (or 0 / 1): which output was better; without it the two scores decide. Returns the
        score read (None if none arrived).
        """
        score = self.read_score()
        phase = self.search["phase"]
        if prefer is not None and phase != "second":
            raise ValueError("RankingZO.step(prefer=...) applies to the step that closes a pair (see compares_next)")
        if prefer is not None and prefer not in _PREFER:
            raise ValueError(f"RankingZO.step(prefer=...) takes 'first' or 'second' (or 0 / 1), got {prefer!r}")
        if score is not None:
            self._record(score)
        if phase == "first":
            self.search["first_score"] = score
            self._move("x2", "u2")
            self.search["phase"] = "second"
            return score
        if phase == "second":
            better = _PREFER[prefer] if prefer is not None else self._better(self.search["first_score"], score)
            if better is None:
                return score  # nothing to compare yet (warned): the same pair's second output is asked again
            self._climb(better)
        self._draw()
        self._move("x1", "u1")
        self.search["phase"] = "first"
        return score

    def _better(self, first: Optional[float], second: Optional[float]) -> Optional[int]:
        """1 or 2 from the scores, 0 for a tie; None (with a warning) when a score is missing."""
        if first is None or second is None:
            self._require_score(None)
            return None
        return 0 if first == second else (1 if first > second else 2)

    def _draw(self) -> None:
        for param in self.parameters():
            state = self.state[param]
            state["u1"], state["u2"] = self.rng.gauss(0.0, 1.0), self.rng.gauss(0.0, 1.0)

    def _move(self, slot: str, direction: str) -> None:
        for group in self.param_groups:
            for param in group["params"]:
                state = self.state[param]
                size = max(group["smoothing"], self.min_step(param))
                state[slot] = self.set_unit(param, state["theta"] + size * state[direction])

    def _climb(self, better: int) -> None:
        k = self.search["comparisons"]
        self.search["comparisons"] += 1
        if better == 0:
            self.search["ties"] += 1
            return
        shrink = (k + 1) ** -self.search["decay"]
        for group in self.param_groups:
            for param in group["params"]:
                state = self.state[param]
                size = max(group["smoothing"], self.min_step(param))
                # the moves actually evaluated (after clipping to the bounds), in units of mu
                d1, d2 = (state["x1"] - state["theta"]) / size, (state["x2"] - state["theta"]) / size
                toward = d1 - d2 if better == 1 else d2 - d1
                state["theta"] = min(1.0, max(0.0, state["theta"] + group["lr"] * shrink * toward))

