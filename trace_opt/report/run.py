"""A run directory read into what the report shows: start, steps (one per step number), end.

Kept apart from the HTML so the page code never touches the raw log layout.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from ..train.events import EVENTS, read_events

GRAPH = "graph.json"


@dataclass
class Run:
    """Everything the report needs from one run directory."""

    path: Path
    start: Dict[str, Any]
    steps: List[Dict[str, Any]]
    end: Optional[Dict[str, Any]]
    resumes: List[Any] = field(default_factory=list)  # the step each resume started from
    graph_json: Optional[str] = None
    candidates: List[Dict[str, Any]] = field(default_factory=list)  # a search's, one per id
    iterations: List[Dict[str, Any]] = field(default_factory=list)  # a search's, one per number

    @property
    def t0(self) -> Optional[float]:
        return _number(self.start.get("time"))


def load_run(run_dir: Union[str, Path]) -> Run:
    """Read RUN_DIR/events.jsonl (and graph.json when present); a clear error when it is no run."""
    path = Path(run_dir)
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is not a directory: expected a trace_opt run directory")
    if not (path / EVENTS).is_file():
        raise FileNotFoundError(f"{path} has no {EVENTS}: is it a trace_opt run directory?")
    events = [e for e in read_events(path) if isinstance(e, dict)]
    starts = [e for e in events if e.get("event") == "run_start"]
    ends = [e for e in events if e.get("event") == "run_end"]
    by_step: Dict[Any, Dict[str, Any]] = {}
    for event in events:
        if event.get("event") == "step":
            by_step[event.get("step")] = event  # a resumed run may repeat a step: the later one counts
    steps = sorted(by_step.values(), key=lambda e: _number(e.get("step")) or 0)
    candidates = _latest(events, "candidate", "id")   # a resumed search may log one again: the later counts
    iterations = _latest(events, "iteration", "iteration")
    graph = path / GRAPH
    return Run(path=path, start=starts[0] if starts else {}, steps=steps, end=ends[-1] if ends else None,
               resumes=[s.get("resumed_from") for s in starts if s.get("resumed_from") is not None],
               graph_json=graph.read_text(encoding="utf-8") if graph.is_file() else None,
               candidates=candidates, iterations=iterations)


def _latest(events: List[Dict[str, Any]], kind: str, key: str) -> List[Dict[str, Any]]:
    """The events of one kind, one per value of ``key`` (the last logged), in key order."""
    found: Dict[Any, Dict[str, Any]] = {}
    for event in events:
        if event.get("event") == kind:
            found[event.get(key)] = event
    return sorted(found.values(), key=lambda e: _number(e.get(key)) or 0)


def as_dict(value: Any) -> Dict[str, Any]:
    """The value when it is a dict, else an empty one (log fields may be missing or damaged)."""
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> Optional[float]:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
