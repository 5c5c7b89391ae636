"""Pareto fronts over candidates, as pure functions of their scores (no I/O, no LLM, no state).

Two kinds of front. The *instance-wise* front (GEPA's): a candidate belongs if it is the best on
at least one validation instance, so a candidate that solves the hard case nobody else solves
survives even when its mean is low; parents are drawn in proportion to how many instances each
front member wins. The *objective* front: candidates none of whom is beaten on every aggregated
objective (accuracy up, cost and latency down), sorted into ranks.

Candidates are identified by any hashable id; a score matrix is ``{id: [score per instance]}``
with every row the same length. Ties go to the candidate listed first (the elder).
"""
from __future__ import annotations

import random
from typing import Dict, Hashable, List, Mapping, Optional, Sequence, Set, Tuple

Id = Hashable


def instance_winners(scores: Mapping[Id, Sequence[float]]) -> List[Set[Id]]:
    """For each instance, the candidates that reach its best score."""
    ids = list(scores)
    if not ids:
        return []
    width = len(scores[ids[0]])
    if any(len(scores[i]) != width for i in ids):
        raise ValueError("every candidate needs a score on every instance: the rows differ in length")
    winners = []
    for column in range(width):
        top = max(scores[i][column] for i in ids)
        winners.append({i for i in ids if scores[i][column] == top})
    return winners


def instance_front(scores: Mapping[Id, Sequence[float]]) -> Dict[Id, int]:
    """The instance-wise front as {id: instances it wins}, in the order of ``scores``.

    A winner whose won instances are all also won by one other front member that wins strictly
    more is dropped (it adds no instance of its own); of candidates winning exactly the same
    instances the elder stays. A matrix with no instances puts every candidate on the front.
    """
    ids = list(scores)
    winners = instance_winners(scores)
    if not winners:
        return {i: 0 for i in ids}
    won: Dict[Id, Set[int]] = {i: {c for c, w in enumerate(winners) if i in w} for i in ids}
    won = {i: s for i, s in won.items() if s}
    kept: Dict[Id, int] = {}
    for i in ids:
        if i not in won:
            continue
        mine = won[i]
        covered = any(j != i and mine <= won[j] and (len(won[j]) > len(mine) or ids.index(j) < ids.index(i))
                      for j in won)
        if not covered:
            kept[i] = len(mine)
    return kept


def sample_parent(front: Mapping[Id, int], rng: random.Random) -> Id:
    """A front member drawn with probability proportional to the instances it wins."""
    if not front:
        raise ValueError("the front is empty: no candidate to draw a parent from")
    ids = list(front)
    weights = [max(front[i], 0) for i in ids]
    if sum(weights) == 0:
        return ids[rng.randrange(len(ids))]
    return rng.choices(ids, weights=weights, k=1)[0]


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether ``a`` is at least as good as ``b`` on every objective and better on one (higher is better)."""
    return all(x >= y for x, y in zip(a, b)) and any(x > y for x, y in zip(a, b))


def pareto_ranks(objectives: Mapping[Id, Sequence[float]]) -> List[List[Id]]:
    """Non-dominated sorting: rank 0 is the front, rank 1 the front once rank 0 is removed, and so on.
    Objectives are maximized; pass costs negated."""
    left = list(objectives)
    ranks: List[List[Id]] = []
    while left:
        front = [i for i in left if not any(dominates(objectives[j], objectives[i]) for j in left if j != i)]
        ranks.append(front)
        left = [i for i in left if i not in front]
    return ranks


def cheapest_within(points: Mapping[Id, Tuple[float, float]], epsilon: float) -> Optional[Id]:
    """Of (score, cost) points, the cheapest whose score is within ``epsilon`` of the best score."""
    if epsilon < 0:
        raise ValueError(f"epsilon must be >= 0, got {epsilon!r}")
    if not points:
        return None
    best = max(score for score, _ in points.values())
    near = [i for i, (score, _) in points.items() if score >= best - epsilon]
    return min(near, key=lambda i: (points[i][1], -points[i][0]))


def best_within_cost(points: Mapping[Id, Tuple[float, float]], cap: float) -> Optional[Id]:
    """Of (score, cost) points, the best-scoring one costing at most ``cap`` (None if none does)."""
    affordable = [i for i, (_, cost) in points.items() if cost <= cap]
    if not affordable:
        return None
    return max(affordable, key=lambda i: (points[i][0], -points[i][1]))
