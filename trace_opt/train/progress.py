"""The training progress bar (rich): step, scores, cost and ETA."""
from __future__ import annotations

from typing import Any, Dict


class ProgressBar:
    """A rich progress bar with score, cost and ETA (off when not on a terminal)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.bar = None
        if enabled:
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("step {task.completed}/{task.total}"), BarColumn(),
                                TextColumn("{task.fields[info]}"), TimeRemainingColumn())
            self.bar.start()
            self.task = self.bar.add_task("train", total=total, info="")

    def update(self, record: Dict[str, Any], usage: Dict[str, Any]) -> None:
        if self.bar is not None:
            val = record["val_score"]
            info = f"train {record['train_score']:.3f}" + (f" val {val:.3f}" if val is not None else "")
            self.bar.update(self.task, completed=record["step"], info=f"{info} ${usage['cost_usd']:.4f}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
