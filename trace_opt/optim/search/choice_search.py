"""Local search over categorical choices, from scores alone.

Choices have no order and no gradient, so this is a (1+1) hill climb with memory: every
evaluated assignment (one choice per parameter) keeps its mean score; the next candidate is
an untried neighbour of the best one so far (one parameter changed), or, with probability
``explore`` or when every neighbour was tried, an untried assignment anywhere, else the best
again (its mean sharpens). ``repeats`` holds each candidate for that many evaluations, so it
can share a loop with SPSA or RankingZO (``repeats=2``: a candidate spans one +/- pair, and
the pair's mean cancels their perturbation to first order).

Ask/tell: the first ``step()`` reads the score of the initial choices; each candidate after
that is scored over ``repeats`` steps.
"""
from __future__ import annotations

import itertools
import math
from typing import Any, Iterable, List, Optional, Tuple

from ._base import ScoreSearch

__all__ = ["ChoiceSearch"]


class ChoiceSearch(ScoreSearch):
    """Hill climbing with memory over categorical Parameters.

    Args:
        params: categorical Parameters (``choices=[...]``, or bools).
        repeats: evaluations per candidate (1).
        explore: chance of trying an untried assignment away from the best (0.2).
        seed: for the random picks.
    """

    kinds = ("categorical",)

    def __init__(self, params: Iterable[Any], repeats: int = 1, explore: float = 0.2, *, seed: Optional[int] = None) -> None:
        if not (isinstance(repeats, int) and repeats >= 1 and 0.0 <= explore <= 1.0):
            raise ValueError(f"ChoiceSearch: repeats must be an int >= 1 and explore in [0, 1], got {repeats}, {explore}")
        super().__init__(params, {}, seed)
        self.repeats, self.explore = repeats, explore
        current = tuple(self._index(p) for p in self.parameters())
        self.search.update(current=current, pending=[], table={}, blocks=0)

    @staticmethod
    def _index(param: Any) -> int:
        value = param.data
        return next(i for i, c in enumerate(param.choices) if c == value and type(c) is type(value))

    def search_step(self) -> Optional[float]:
        """Read the score of the choices just evaluated; after a full block, set the next candidate.
        Returns the score (None, with a warning and nothing changed, when no score arrived)."""
        score = self.take_score()
        if score is None:
            return None
        s = self.search
        s["pending"].append(score)
        if len(s["pending"]) < (self.repeats if s["blocks"] else 1):
            return score
        total, count = s["table"].get(s["current"], (0.0, 0))
        s["table"][s["current"]] = (total + math.fsum(s["pending"]), count + len(s["pending"]))
        s["pending"], s["blocks"] = [], s["blocks"] + 1
        s["current"] = self._propose()
        for param, index in zip(self.parameters(), s["current"]):
            param.data = param.choices[index]
        return score

    def incumbent(self) -> Tuple[int, ...]:
        """The assignment (choice indices) with the best mean score so far."""
        table = self.search["table"]
        return max(table, key=lambda a: table[a][0] / table[a][1])

    def _propose(self) -> Tuple[int, ...]:
        best, table = self.incumbent(), self.search["table"]
        sizes = [len(p.choices) for p in self.parameters()]
        neighbours = [best[:i] + (j,) + best[i + 1:] for i, n in enumerate(sizes) for j in range(n) if j != best[i]]
        untried = [a for a in neighbours if a not in table]
        if untried and self.rng.random() >= self.explore:
            return self.rng.choice(untried)
        far = self._untried_anywhere(sizes)
        return far if far is not None else (self.rng.choice(untried) if untried else best)

    def _untried_anywhere(self, sizes: List[int]) -> Optional[Tuple[int, ...]]:
        table = self.search["table"]
        if math.prod(sizes) <= 4096:
            options = [a for a in itertools.product(*map(range, sizes)) if a not in table]
            return self.rng.choice(options) if options else None
        for _ in range(32):  # a big space: random draws are almost surely untried
            candidate = tuple(self.rng.randrange(n) for n in sizes)
            if candidate not in table:
                return candidate
        return None
