"""The sink contract: a run's event records (the lines of events.jsonl) handed over one by one."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Optional

from ...llm.redaction import redact

# Files of a run directory a sink may copy at the end of a run: the log, the last checkpoint, the
# last step's trace (the HTML report is written from them).
RUN_FILES = ("events.jsonl", "checkpoint.json", "graph.json")


class RunSink:
    """Receives every event record of a run (see ``train/events.py`` for the fields), with the run
    directory (None when the run has none). Subclasses define ``on_<event>`` methods."""

    def write(self, record: Dict[str, Any], run_dir: Optional[Path]) -> None:
        handler = getattr(self, f"on_{record['event']}", None)
        if handler is not None:
            handler(record, run_dir)


def clean(text: str) -> str:
    """Text as a sink may send it: credentials and key-shaped strings replaced."""
    return redact(text)


def clean_json(value: Any) -> str:
    """A value as redacted, readable JSON (for text artifacts)."""
    return clean(json.dumps(value, ensure_ascii=False, indent=2, default=repr))


def short(value: Any, limit: int = 500) -> str:
    """A parameter value as a short redacted string (the whole value goes in a text artifact)."""
    text = clean(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=repr))
    return text if len(text) <= limit else text[:limit - 1] + "…"


def metrics_of(record: Dict[str, Any]) -> Dict[str, float]:
    """The numbers of a step or iteration record, as metric name -> value."""
    found: Dict[str, float] = {}
    for key in ("train_score", "val_score", "accepted", "rolled_back", "parent_score", "child_score", "rollouts"):
        value = record.get(key)
        if isinstance(value, (bool, int, float)):
            found[key] = float(value)
    for key, value in (record.get("usage") or {}).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            found[key] = float(value)
    return found


def kept_run_id(run_dir: Optional[Path], file_name: str) -> Optional[str]:
    """The id of the tracking run a run directory was logged to (for ``resume()``), if kept."""
    try:
        return json.loads((Path(run_dir) / file_name).read_text())["run_id"]
    except (TypeError, OSError, ValueError, KeyError):
        return None


def keep_run_id(run_dir: Optional[Path], file_name: str, run_id: str) -> None:
    if run_dir is not None:
        (Path(run_dir) / file_name).write_text(json.dumps({"run_id": run_id}))


def status_of(reason: Optional[str]) -> str:
    """MLflow's / W&B's word for how a run ended."""
    return {"error": "FAILED", "interrupted": "KILLED"}.get(reason or "", "FINISHED")
