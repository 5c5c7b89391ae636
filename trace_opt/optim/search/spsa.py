"""SPSA: a gradient estimate from two evaluations, whatever the number of parameters.

Spall (1992), "Multivariate Stochastic Approximation Using a Simultaneous Perturbation
Gradient Approximation". All parameters move at once by +c*delta, then by -c*delta (delta a
random +-1 vector); the score difference over the move gives every coordinate's slope, and
the estimate climbs it: theta += a_k * (y+ - y-) / (x+ - x-). Gains follow Spall's schedule
a_k = lr / (k + 1 + stability)^0.602, c_k = perturbation / (k + 1)^0.101.

Coordinates are the parameters' bounds mapped to [0, 1], so ``lr`` and ``perturbation`` are
fractions of each range. Integer parameters move by at least one integer step.

Ask/tell: the first ``step()`` reads the score of the initial values; after that steps go in
pairs (+ then -), each reading the score of the values the previous step set.
"""
from __future__ import annotations

from typing import Any, Iterable, Optional

from ._base import ScoreSearch

__all__ = ["SPSA"]


class SPSA(ScoreSearch):
    """Simultaneous perturbation stochastic approximation over bounded number Parameters.

    Args:
        params: number Parameters with finite ``bounds`` (or parameter groups).
        lr: step size a, in fractions of each range per unit of score slope (0.1).
        perturbation: c, the size of the +-move in fractions of each range (0.1).
        decay, perturbation_decay, stability: Spall's alpha (0.602), gamma (0.101) and A (0).
        seed: for the random directions.
    """

    def __init__(self, params: Iterable[Any], lr: float = 0.1, perturbation: float = 0.1, *, decay: float = 0.602,
                 perturbation_decay: float = 0.101, stability: float = 0.0, seed: Optional[int] = None) -> None:
        if not (lr > 0 and 0 < perturbation <= 0.5):
            raise ValueError(f"SPSA: lr must be > 0 and perturbation in (0, 0.5], got {lr}, {perturbation}")
        super().__init__(params, dict(lr=lr, perturbation=perturbation), seed)
        self.search.update(phase="start", k=0, y_plus=None, decay=decay, perturbation_decay=perturbation_decay,
                           stability=stability)
        for param in self.parameters():
            self.state[param] = {"theta": self.unit_of(param), "delta": 1.0, "x_plus": None, "x_minus": None}

    def search_step(self) -> Optional[float]:
        """Read the score of the values just evaluated and set the next ones; returns the score
        (None, with a warning and nothing changed, when no score arrived)."""
        score = self.take_score()
        if score is None:
            return None
        phase = self.search["phase"]
        if phase == "minus":
            self._climb(self.search["y_plus"], score)
            self.search["k"] += 1
        if phase in ("start", "minus"):
            for param in self.parameters():
                self.state[param]["delta"] = self.rng.choice((-1.0, 1.0))
            self._move("x_plus", +1.0)
            self.search["phase"] = "plus"
        else:  # "plus": its score is in; evaluate the opposite move next
            self.search["y_plus"] = score
            self._move("x_minus", -1.0)
            self.search["phase"] = "minus"
        return score

    def _move(self, slot: str, sign: float) -> None:
        k, gamma = self.search["k"], self.search["perturbation_decay"]
        for group in self.param_groups:
            c = group["perturbation"] / (k + 1) ** gamma
            for param in group["params"]:
                state = self.state[param]
                size = max(c, self.min_step(param))
                state[slot] = self.set_unit(param, state["theta"] + sign * size * state["delta"])

    def _climb(self, y_plus: float, y_minus: float) -> None:
        k, s = self.search["k"], self.search
        for group in self.param_groups:
            a = group["lr"] / (k + 1 + s["stability"]) ** s["decay"]
            for param in group["params"]:
                state = self.state[param]
                moved = state["x_plus"] - state["x_minus"]
                if moved:
                    state["theta"] = min(1.0, max(0.0, state["theta"] + a * (y_plus - y_minus) / moved))

