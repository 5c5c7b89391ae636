"""What a ParetoSearch found: the pool with lineage and scores, the best candidate, and the views
of the front a user chooses from (score against cost, the cheapest near the best, the best under a cap)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from . import pareto_front
from .candidates import Candidate, Pool


@dataclass
class SearchResult:
    """What a search found: the pool with lineage and scores, the best candidate, why it ended."""

    pool: Pool
    best: Candidate
    reason: str
    iterations: int
    rollouts: int
    cost: str  # what "cost" means in the front: "usd" or "tokens" per rollout

    @property
    def best_val_score(self) -> float:
        return self.best.score

    def points(self) -> Dict[int, Tuple[float, float]]:
        return {c.id: (c.score, c.objectives(self.cost)["cost"]) for c in self.pool if c.scores}

    def front(self) -> List[Candidate]:
        """The candidates no other beats on both score and cost, cheapest first."""
        points = self.points()
        ranks = pareto_front.pareto_ranks({i: (s, -c) for i, (s, c) in points.items()})
        return sorted((self.pool[i] for i in (ranks[0] if ranks else [])), key=lambda c: points[c.id][1])

    def instance_front(self) -> Dict[int, int]:
        """{candidate id: validation instances it is best on}: GEPA's front."""
        return pareto_front.instance_front(self.pool.score_matrix())

    def cheapest_within(self, epsilon: float) -> Candidate:
        """The cheapest candidate whose score is within ``epsilon`` of the best score."""
        return self.pool[pareto_front.cheapest_within(self.points(), epsilon)]

    def best_within(self, cost_cap: float) -> Optional[Candidate]:
        """The best-scoring candidate whose cost per rollout is at most ``cost_cap`` (None if none)."""
        found = pareto_front.best_within_cost(self.points(), cost_cap)
        return None if found is None else self.pool[found]
