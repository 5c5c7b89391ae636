"""Which candidate a step keeps: a pure choice over the candidates and an evaluation function.

Without ``evaluate`` the candidate with the most valid changes wins. With it, the current values
are scored first, then every candidate, and each change of a multi-change candidate alone (a
good change can hide behind a bad one); only a candidate that beats the current score is kept.
The parameters are set only while a candidate is scored and are restored after; installing the
winner is the caller's job. Proposals that lost say so.
"""
from __future__ import annotations

import logging
import math
from typing import Any, Callable, Dict, List, Optional

from ..graph import Parameter
from ..graph.errors import stops_run
from .report import Candidate, Proposal, StepReport

log = logging.getLogger("trace_opt.optim")


def choose(report: StepReport, evaluate: Optional[Callable[[], float]], min_delta: float = 0.0) -> None:
    """Set ``report.chosen`` (None: keep the current values) and the losers' fates. A candidate
    must beat the current score by more than ``min_delta``: a tie keeps the incumbent."""
    usable = [i for i, c in enumerate(report.candidates) if c.changes]
    if not usable:
        return
    if evaluate is None:  # no data to judge by: the candidate most of whose suggestion was valid
        report.chosen = max(usable, key=lambda i: (len(report.candidates[i].changes), -i))
        return
    report.baseline_score = score(evaluate)
    usable += _single_changes(report, usable)
    best, best_score = None, report.baseline_score + min_delta
    for index in usable:
        candidate = report.candidates[index]
        candidate.score = score_with(candidate.changes, evaluate)
        if candidate.score > best_score:
            best, best_score = index, candidate.score
    report.chosen = best
    for index, candidate in enumerate(report.candidates):
        if index == best:
            continue
        for proposal in candidate.proposals:
            if proposal.accepted and not (best is not None and _kept(proposal, report.candidates[best])):
                proposal.accepted, proposal.reason = False, "did not beat the current values on evaluation"


def score(evaluate: Callable[[], float]) -> float:
    """``evaluate()``, with -inf for a candidate that breaks the workflow (it loses; training goes on)."""
    try:
        value = float(evaluate())
    except Exception as exc:
        if stops_run(exc):  # ... unless the model itself is gone, or the budget spent
            raise
        log.info("evaluation raised %s: %s", type(exc).__name__, exc)
        return -math.inf
    return value if math.isfinite(value) else -math.inf


def _single_changes(report: StepReport, usable: List[int]) -> List[int]:
    """Add each change of a multi-change candidate as a candidate of its own; their indices."""
    tried = {_signature(report.candidates[i].changes) for i in usable}
    added = []
    for index in list(usable):
        candidate = report.candidates[index]
        if len(candidate.changes) < 2:
            continue
        for param, value in candidate.changes.items():
            single = {param: value}
            if _signature(single) in tried:
                continue
            tried.add(_signature(single))
            report.candidates.append(Candidate(single, [Proposal(param.name, value, True)],
                                               reasoning=f"one change of candidate {index + 1}", origin=index))
            added.append(len(report.candidates) - 1)
    return added


def score_with(changes: Dict[Parameter, Any], evaluate: Callable[[], float]) -> float:
    """The score with ``changes`` set, the parameters restored after."""
    previous = {p: p.data for p in changes}
    try:
        for param, value in changes.items():
            param.data = value
        return score(evaluate)
    finally:
        for param, value in previous.items():
            param.data = value


def _signature(changes: Dict[Parameter, Any]) -> frozenset:
    return frozenset((id(p), repr(v)) for p, v in changes.items())


def _kept(proposal: Proposal, chosen: Candidate) -> bool:
    return any(p.name == proposal.name and p.spec.same(v, proposal.value) for p, v in chosen.changes.items())
