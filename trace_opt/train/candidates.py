"""The search's candidates: whole sets of parameter values with their lineage and their scores.

A candidate is what a search keeps of one agent it tried: every parameter's value, the parents it
came from and how (the seed, a mutation, a merge), its score on each validation instance (named
scores too, when the guide gives several) and what a rollout of it cost (tokens, dollars,
seconds). The pool is the candidates in the order they were made, and turns to and from JSON so a
checkpoint holds it whole.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from statistics import mean
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence

from .events import json_value

ORIGINS = ("seed", "mutation", "merge")


@dataclass
class Candidate:
    id: int
    values: Dict[str, Any]                  # parameter name -> value (as the agent's state_dict holds it)
    parents: List[int] = field(default_factory=list)
    origin: str = "seed"
    iteration: int = 0                       # the search iteration that made it
    scores: List[float] = field(default_factory=list)            # per validation instance
    named: Dict[str, List[float]] = field(default_factory=dict)  # per named score, per instance
    tokens: float = 0.0                      # mean tokens per validation rollout
    cost_usd: float = 0.0                    # mean dollars per validation rollout
    seconds: float = 0.0                     # mean wall seconds per validation rollout

    def __post_init__(self) -> None:
        if self.origin not in ORIGINS:
            raise ValueError(f"a candidate's origin is one of {ORIGINS}, got {self.origin!r}")

    @property
    def score(self) -> float:
        """The mean validation score (0 for a candidate not yet validated)."""
        return mean(self.scores) if self.scores else 0.0

    def objectives(self, cost: str) -> Dict[str, float]:
        """What this candidate is judged on: the mean score, each named score, cost and latency."""
        found = {"score": self.score, **{name: mean(v) for name, v in self.named.items() if v}}
        found["cost"] = self.cost_usd if cost == "usd" else self.tokens
        found["latency"] = self.seconds
        return found

    def changed(self, other: "Candidate") -> List[str]:
        """The names of parameters whose values differ from ``other``'s."""
        return sorted(n for n in self.values if values_key(self.values[n]) != values_key(other.values.get(n)))

    def to_json(self) -> Dict[str, Any]:
        record = asdict(self)
        record["values"] = {n: json_value(v) for n, v in self.values.items()}
        return record


class Pool:
    """The candidates in the order they were made; ids are positions."""

    def __init__(self, candidates: Sequence[Candidate] = ()) -> None:
        self.candidates: List[Candidate] = list(candidates)
        self._by_values = {values_key(c.values): c.id for c in self.candidates}

    def __len__(self) -> int:
        return len(self.candidates)

    def __iter__(self) -> Iterator[Candidate]:
        return iter(self.candidates)

    def __getitem__(self, candidate_id: int) -> Candidate:
        return self.candidates[candidate_id]

    def add(self, values: Mapping[str, Any], *, parents: Sequence[int] = (), origin: str = "seed",
            iteration: int = 0) -> Candidate:
        candidate = Candidate(len(self.candidates), dict(values), list(parents), origin, iteration)
        self.candidates.append(candidate)
        self._by_values[values_key(candidate.values)] = candidate.id
        return candidate

    def find(self, values: Mapping[str, Any]) -> Optional[Candidate]:
        """The candidate that already holds exactly these values, if any (a child seen before)."""
        found = self._by_values.get(values_key(dict(values)))
        return None if found is None else self.candidates[found]

    def score_matrix(self) -> Dict[int, List[float]]:
        return {c.id: c.scores for c in self.candidates if c.scores}

    def ancestors(self, candidate_id: int) -> List[int]:
        """The candidate and all it came from, nearest first."""
        seen, queue = [], [candidate_id]
        while queue:
            current = queue.pop(0)
            if current not in seen:
                seen.append(current)
                queue.extend(self.candidates[current].parents)
        return seen

    def to_json(self) -> List[Dict[str, Any]]:
        return [asdict(c) for c in self.candidates]

    @classmethod
    def from_json(cls, records: Sequence[Mapping[str, Any]]) -> "Pool":
        return cls([Candidate(**dict(r)) for r in records])


def same_values(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two sets of parameter values are the same (compared as the log shows them)."""
    return values_key(dict(a)) == values_key(dict(b))


def values_key(value: Any) -> str:
    """Parameter values (or one value) as a comparable key: JSON as the log shows them."""
    return json.dumps(json_value(value), sort_keys=True, default=repr)
