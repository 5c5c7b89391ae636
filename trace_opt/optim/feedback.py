"""The feedback that reached a step's parameters, gathered one way for every optimizer.

backward() leaves one record per parameter reached, so an output that reached three parameters
holds three records of one feedback; each (output, feedback) pair counts once here.
"""
from __future__ import annotations

from typing import Iterable, List

from ..graph import Parameter
from ..graph.feedback import FeedbackRecord


def feedback_records(params: Iterable[Parameter]) -> List[FeedbackRecord]:
    """Each (output, feedback) that reached any of ``params`` once, in the order they arrived."""
    seen, records = set(), []
    for param in params:
        for record in param.feedback:
            key = (id(record.output), id(record.feedback))
            if key not in seen:
                seen.add(key)
                records.append(record)
    return records


def feedback_texts(params: Iterable[Parameter]) -> List[str]:
    """The distinct feedback texts (as str(feedback) shows them), in order."""
    return list(dict.fromkeys(str(record.feedback) for param in params for record in param.feedback))


def feedback_scores(params: Iterable[Parameter]) -> List[float]:
    """The scores the feedback carried, each (output, feedback) counted once."""
    return [r.feedback.score for r in feedback_records(params) if r.feedback.score is not None]
