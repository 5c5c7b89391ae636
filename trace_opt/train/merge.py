"""Merging two lineages: a child that takes each parent's own improvements (GEPA's merge).

Two candidates that share an ancestor and changed *different* parameters since it can be combined
without an LLM: start from the ancestor and take every parameter the first changed from the first
and every one the second changed from the second. Where both changed the same parameter, the merge
takes the better-scoring parent's value for it unless ``disjoint_only``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from .candidates import Pool, same_values


@dataclass(frozen=True)
class Merge:
    first: int
    second: int
    ancestor: int
    values: Dict[str, Any]
    taken: Dict[str, int]  # changed parameter -> the parent it came from


def common_ancestor(pool: Pool, first: int, second: int) -> Optional[int]:
    """The nearest candidate both descend from (neither of the two themselves)."""
    mine, theirs = pool.ancestors(first), set(pool.ancestors(second))
    if first in theirs or second in set(mine):
        return None  # one descends from the other: nothing to merge
    return next((a for a in mine if a in theirs), None)


def merge(pool: Pool, first: int, second: int, *, disjoint_only: bool = True) -> Optional[Merge]:
    """The merged values of two candidates, or None when there is nothing worth merging
    (no common ancestor, one holds all the other's changes, or their changes overlap)."""
    ancestor = common_ancestor(pool, first, second)
    if ancestor is None:
        return None
    base, a, b = pool[ancestor], pool[first], pool[second]
    changed_a, changed_b = set(a.changed(base)), set(b.changed(base))
    if not changed_a or not changed_b:
        return None
    both = changed_a & changed_b
    if both and disjoint_only:
        return None
    stronger = first if a.score >= b.score else second
    values, taken = dict(base.values), {}
    for name in sorted(changed_a | changed_b):
        source = stronger if name in both else (first if name in changed_a else second)
        values[name], taken[name] = pool[source].values[name], source
    if same_values(values, a.values) or same_values(values, b.values):
        return None
    return Merge(first, second, ancestor, values, taken)


def merge_pairs(pool: Pool, front: List[int], tried: List[Tuple[int, int]]) -> List[Tuple[int, int]]:
    """Pairs of front members not merged before, stronger pairs first."""
    ranked = sorted(front, key=lambda i: -pool[i].score)
    done = {tuple(sorted(pair)) for pair in tried}
    return [(x, y) for n, x in enumerate(ranked) for y in ranked[n + 1:] if tuple(sorted((x, y))) not in done]


def describe(found: Merge, pool: Pool) -> str:
    parts = [f"{name} from #{source}" for name, source in found.taken.items()]
    return f"merge of #{found.first} and #{found.second} over #{found.ancestor}: " + ", ".join(parts)
