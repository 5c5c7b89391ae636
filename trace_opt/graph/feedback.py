"""Feedback on an output, and the record of it that backward leaves on a parameter."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Tuple

if TYPE_CHECKING:  # pragma: no cover
    from .nodes import Node, Parameter


@dataclass(frozen=True)
class Feedback:
    """What was right or wrong with an output: words, a score, or both; and, for searches that weigh
    several objectives, named scores (``scores={"accuracy": 1.0, "brevity": 0.5}``), kept as sorted
    (name, value) pairs. Without a ``score`` the named scores' mean is the score."""

    text: str = ""
    score: Optional[float] = None
    scores: Any = ()

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise TypeError(f"Feedback text must be a str, got {type(self.text).__name__}")
        named = _named_scores(self.scores)
        object.__setattr__(self, "scores", named)
        if self.score is None and named:
            object.__setattr__(self, "score", sum(v for _, v in named) / len(named))
        if self.score is not None:
            if isinstance(self.score, bool) or not isinstance(self.score, (int, float)):
                raise TypeError(f"Feedback score must be a number or None, got {type(self.score).__name__}")
            if not math.isfinite(self.score):
                raise ValueError(f"Feedback score must be finite, got {self.score!r}")

    @classmethod
    def coerce(cls, value: Any) -> "Feedback":
        """Accept what backward() accepts: a str, a number, or a Feedback."""
        if isinstance(value, Feedback):
            return value
        if isinstance(value, str):
            return cls(text=value)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return cls(score=float(value))
        raise TypeError(
            f"feedback must be a str, a number or trace_opt.Feedback, got {type(value).__name__}: {value!r:.80}"
        )

    @property
    def named(self) -> Dict[str, float]:
        """The named scores as a dict."""
        return dict(self.scores)

    def __str__(self) -> str:
        if self.score is None:
            return self.text
        score = f"score: {self.score:g}"
        if self.scores:
            score += "; " + ", ".join(f"{name}: {value:g}" for name, value in self.scores)
        return f"{self.text} ({score})" if self.text else score


def _named_scores(value: Any) -> Tuple[Tuple[str, float], ...]:
    """Named scores as sorted (name, finite float) pairs, or a clear error naming the bad one."""
    items = value.items() if isinstance(value, Mapping) else value
    try:
        pairs = [(name, score) for name, score in items]
    except (TypeError, ValueError):
        raise TypeError(f"Feedback scores must be a dict of name -> number, got {value!r:.80}") from None
    checked = {}
    for name, score in pairs:
        if not isinstance(name, str) or not name:
            raise TypeError(f"a Feedback score name must be a non-empty str, got {name!r}")
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
            raise ValueError(f"Feedback score {name!r} must be a finite number, got {score!r}")
        checked[name] = float(score)
    return tuple(sorted(checked.items()))


@dataclass(frozen=True, eq=False)
class FeedbackRecord:
    """Feedback that reached a parameter: which output it was about, and what it said.

    The subgraph that links the parameter to that output is computed on demand, so
    backward stays one linear pass however many parameters it reaches.
    """

    parameter: "Parameter"
    output: "Node"
    feedback: Feedback

    def subgraph(self) -> List["Node"]:
        """Nodes on the paths from the parameter to the output, parents before children."""
        from .traversal import linking_subgraph

        return linking_subgraph([self.output], [self.parameter])

    # Trace's names, for optimizers written against it (its feedback is a graph with user feedback).
    @property
    def user_feedback(self) -> str:
        return str(self.feedback)

    @property
    def graph(self) -> List[Tuple[int, "Node"]]:
        """The subgraph as Trace lists it: (depth from the parameter, node), parents first."""
        from .traversal import leveled

        return leveled(self.subgraph())


class FeedbackRecords(list):
    """What reached a parameter: a list of FeedbackRecord. Code written against Trace, whose
    feedback is a dict keyed by node, can also read it as one: keyed by the output."""

    def _grouped(self) -> Dict["Node", List[FeedbackRecord]]:
        grouped: Dict["Node", List[FeedbackRecord]] = {}
        for record in self:
            grouped.setdefault(record.output, []).append(record)
        return grouped

    def items(self):
        return self._grouped().items()

    def keys(self):
        return self._grouped().keys()

    def values(self):
        return self._grouped().values()
