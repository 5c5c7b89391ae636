"""StepReport: what one optimizer step did, the same type from every optimizer.

An LLM optimizer fills the candidates and their proposals, a search its score, a numeric
optimizer the loss (when a closure gave one); any of them a skip reason. A composite's report
holds its children's as ``parts`` and reads as their union, so whoever logs a step (the
Trainer, a report page) never asks which kind of optimizer made it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional


@dataclass
class Proposal:
    """One suggested value and what became of it."""

    name: str
    value: Any
    accepted: bool
    reason: str = ""


@dataclass
class Candidate:
    """One proposed update: the valid changes, every suggestion's fate, and its score if evaluated."""

    changes: Dict[Any, Any]   # Parameter -> value
    proposals: List[Proposal]
    score: Optional[float] = None
    reasoning: str = ""
    origin: Optional[int] = None  # for a change tried alone: the index of the candidate it came from


@dataclass
class StepReport:
    """What a step did; ``updated`` maps parameter names to their new values."""

    skipped: Optional[str] = None
    candidates: List[Candidate] = field(default_factory=list)
    chosen: Optional[int] = None
    baseline_score: Optional[float] = None
    updated: Dict[str, Any] = field(default_factory=dict)
    notes: List[str] = field(default_factory=list)
    score: Optional[float] = None       # a search's score of the values just evaluated
    loss: Optional[float] = None        # a numeric step's loss, when its closure returned one
    optimizer: str = ""                 # the class that made it
    parts: List["StepReport"] = field(default_factory=list)   # a composite's children, in order

    @property
    def proposals(self) -> List[Proposal]:
        """Every suggestion of this step and of its parts, with its fate."""
        return [p for c in self.candidates for p in c.proposals] + [p for part in self.parts for p in part.proposals]

    def skip_reasons(self) -> List[str]:
        """Why this step changed nothing, and each part that did not: 'Class: reason' for a part."""
        own = [self.skipped] if self.skipped and not self.parts else []
        return own + [f"{part.optimizer or 'part'}: {reason}" for part in self.parts for reason in part.skip_reasons()]

    @classmethod
    def of(cls, result: Any, optimizer: str = "") -> "StepReport":
        """A step's result as a report: a user's own optimizer may return nothing, or a number
        (read as its score), as torch-style and ask/tell code does."""
        if isinstance(result, StepReport):
            return result
        if isinstance(result, (int, float)) and not isinstance(result, bool):
            return cls(score=float(result), optimizer=optimizer)
        return cls(optimizer=optimizer)

    @classmethod
    def merged(cls, parts: List["StepReport"], optimizer: str = "") -> "StepReport":
        """One report of several optimizers' steps: skipped only when every part was."""
        updated: Dict[str, Any] = {}
        for part in parts:
            updated.update(part.updated)
        skipped = "every part skipped" if parts and all(part.skipped for part in parts) else None
        scores = [part.score for part in parts if part.score is not None]
        losses = [part.loss for part in parts if part.loss is not None]
        return cls(skipped=skipped, updated=updated, notes=[n for part in parts for n in part.notes],
                   score=scores[0] if len(scores) == 1 else None, loss=losses[0] if len(losses) == 1 else None,
                   optimizer=optimizer, parts=list(parts))
