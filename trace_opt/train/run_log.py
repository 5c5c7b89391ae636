"""Where a run's events go: ``events.jsonl`` in the run directory and every sink the run was given
(MLflow, Weights & Biases, one of the user's), each seeing the same records in the same order.

A sink that raises is warned about once and left out for the rest of the run: watching a run
must never end it.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

from .events import EventLog
from .sinks.base import RunSink

log = logging.getLogger("trace_opt.train")


class RunLog:
    def __init__(self, run_dir: Union[str, Path, None], sinks: Sequence[RunSink] = ()) -> None:
        for sink in sinks:
            if not callable(getattr(sink, "write", None)):
                raise TypeError(f"a sink needs a write(record, run_dir) method, got {type(sink).__name__}")
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.file = EventLog(self.run_dir) if self.run_dir is not None else None
        self.sinks: List[RunSink] = list(sinks)

    def write(self, event: str, **fields: Any) -> Dict[str, Any]:
        record = self.file.write(event, **fields) if self.file is not None else \
            {"event": event, "time": time.time(), **fields}
        for sink in list(self.sinks):
            try:
                sink.write(record, self.run_dir)
            except Exception as error:  # the run goes on; the sink is left out from here on
                self.sinks.remove(sink)
                log.warning("the %s sink failed on %r and is left out for the rest of the run: %s: %s",
                            type(sink).__name__, event, type(error).__name__, error)
        return record


def optional_log(run_dir: Optional[Path], sinks: Sequence[RunSink]) -> Optional[RunLog]:
    """A RunLog when there is somewhere to write (a run directory or a sink), else None."""
    return RunLog(run_dir, sinks) if run_dir is not None or sinks else None
