"""Feedback on an output, and the record of it that backward leaves on a parameter."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, List, Optional

if TYPE_CHECKING:  # pragma: no cover
    from .nodes import Node, Parameter


@dataclass(frozen=True)
class Feedback:
    """What was right or wrong with an output: words, a score, or both."""

    text: str = ""
    score: Optional[float] = None

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise TypeError(f"Feedback text must be a str, got {type(self.text).__name__}")
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

    def __str__(self) -> str:
        if self.score is None:
            return self.text
        return f"{self.text} (score: {self.score:g})" if self.text else f"score: {self.score:g}"


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
