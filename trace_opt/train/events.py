"""The run's event log: one JSON object per line in RUN_DIR/events.jsonl.

Appended and flushed as the run goes, so a killed run leaves every finished event behind;
the report (``trace-opt report RUN_DIR``) and ``Trainer.resume`` read it. Each line has
``"event"`` and ``"time"`` (seconds since the epoch) and, by event:

- ``run_start``: ``agent`` (class name), ``optimizer`` (class name), ``config`` (dict),
  ``parameters`` ({name: value}), ``resumed_from`` (step number or null)
- ``step``: ``epoch``, ``step`` (1-based, across epochs), ``train_score`` (mean score of the
  minibatch before the update, or null), ``val_score`` (after the update, or null),
  ``accepted`` (bool: the update was kept), ``rolled_back`` (bool), ``reason`` (str or null: why
  the step changed nothing or was undone: the optimizer's skip, a guard, validation),
  ``usage`` ({"calls", "total_tokens", "cost_usd"}, cumulative), ``parameters``
  ({name: value} after the step), ``proposals`` ([{"name", "value", "accepted", "reason"}])
- ``checkpoint``: ``step``, ``path``
- ``run_end``: ``reason`` ("done", "early_stop", "stopped" by a callback, "budget",
  "interrupted" by SIGTERM, or "error": fit() then raises it), ``message``, ``best_val_score``,
  ``steps``

Values are JSON: text, numbers, choices and JSON parameters as they are, code as its source,
tensors as ``{"tensor": [shape], "dtype": ..., "norm": float}``.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Union

from ..graph.kinds import is_tensor
from ..sandbox import bounded_json

EVENTS = "events.jsonl"


def json_value(value: Any) -> Any:
    """A parameter value as the log shows it (tensors summarized, never their contents)."""
    if is_tensor(value):
        data = value.detach()
        return {"tensor": list(data.shape), "dtype": str(data.dtype).removeprefix("torch."),
                "norm": float(data.float().norm()) if data.numel() else 0.0}
    try:
        json.dumps(value, allow_nan=False)
        return value
    except (TypeError, ValueError):
        return repr(value)


class EventLog:
    """Append-only JSONL writer; each event is one flushed (and fsynced) line."""

    def __init__(self, run_dir: Union[str, Path]) -> None:
        self.path = Path(run_dir) / EVENTS
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, event: str, **fields: Any) -> Dict[str, Any]:
        record = {"event": event, "time": time.time(), **fields}
        line = json.dumps(record, ensure_ascii=False, allow_nan=False, default=repr) + "\n"
        with open(self.path, "ab+") as handle:
            if _torn(handle):
                line = "\n" + line  # a kill mid-write left half a line: do not glue this event to it
            handle.write(line.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        return record


def _torn(handle: Any) -> bool:
    """Whether the file (open for appending and reading) ends inside a line."""
    end = handle.seek(0, os.SEEK_END)
    if end == 0:
        return False
    handle.seek(end - 1)
    return handle.read(1) != b"\n"


def read_events(run_dir: Union[str, Path]) -> List[Dict[str, Any]]:
    """Every complete event of a run; a torn last line (a kill mid-write) is ignored."""
    return list(iter_events(run_dir))


def iter_events(run_dir: Union[str, Path]) -> Iterator[Dict[str, Any]]:
    path = Path(run_dir) / EVENTS
    if not path.exists():
        raise FileNotFoundError(f"{run_dir} has no {EVENTS}: is it a trace_opt run directory?")
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                yield bounded_json.loads(line, what="an event")
            except ValueError:
                continue
