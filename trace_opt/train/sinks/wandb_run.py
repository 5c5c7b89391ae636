"""``WandbSink``: a Trainer's (or a search's) run as a Weights & Biases run.

Settings and starting parameter values go in the run's config (values cut to 500 characters),
scores, acceptance, calls, tokens and cost are logged per step (per iteration for a search), the
parameter values of each step and a search's candidates are tables, and at the end the HTML
report, the checkpoint, the last trace and the event log are one artifact. Everything is
redacted first. ``mode="offline"`` writes only to local files (``wandb sync`` uploads them later).
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional

from .base import RUN_FILES, RunSink, clean, clean_json, keep_run_id, kept_run_id, metrics_of, short

RUN_ID_FILE = "wandb_run.json"


class WandbSink(RunSink):
    def __init__(self, project: str = "trace_opt", *, mode: Optional[str] = None, dir: Optional[str] = None,
                 name: Optional[str] = None, tags: Optional[List[str]] = None, **init_options: Any) -> None:
        import wandb

        self._wandb = wandb
        self.options = {"project": project, "mode": mode, "dir": dir, "name": name, "tags": tags, **init_options}
        self.run: Any = None
        self.local_dir: Optional[Path] = None  # wandb's folder of this run (the .wandb file, files/)
        self.parameter_rows: List[List[Any]] = []
        self.candidate_rows: List[List[Any]] = []

    def on_run_start(self, record: Dict[str, Any], run_dir: Optional[Path]) -> None:
        kept = kept_run_id(run_dir, RUN_ID_FILE) if record.get("resumed_from") else None
        config = {"agent": record.get("agent"), "optimizer": record.get("optimizer"), "search": record.get("search"),
                  **{f"config.{k}": v for k, v in (record.get("config") or {}).items()},
                  **{f"param.{k}": short(v) for k, v in (record.get("parameters") or {}).items()}}
        options = {k: v for k, v in self.options.items() if v is not None}
        options.setdefault("name", clean(f"{record.get('agent')} / {record.get('optimizer')}"))
        if kept is not None:
            options.update(id=kept, resume="allow")
        self.run = self._wandb.init(config={k: v for k, v in config.items() if v is not None},
                                    reinit="create_new", **options)
        self.local_dir = Path(self.run.dir).parent
        keep_run_id(run_dir, RUN_ID_FILE, self.run.id)

    def on_step(self, record: Dict[str, Any], run_dir: Optional[Path]) -> None:
        self.run.log(metrics_of(record), step=record["step"])
        self.parameter_rows += [[record["step"], name, short(value, 2000)]
                                for name, value in (record.get("parameters") or {}).items()]

    def on_iteration(self, record: Dict[str, Any], run_dir: Optional[Path]) -> None:
        self.run.log(metrics_of(record), step=record["iteration"])

    def on_candidate(self, record: Dict[str, Any], run_dir: Optional[Path]) -> None:
        self.candidate_rows.append([record["id"], str(record.get("origin")), str(record.get("parents")),
                                    record.get("score"), record.get("tokens"), record.get("cost_usd"),
                                    clean_json(record.get("values") or {})])

    def on_run_end(self, record: Dict[str, Any], run_dir: Optional[Path]) -> None:
        wandb = self._wandb
        self.run.summary["best_val_score"] = record.get("best_val_score")
        self.run.summary["reason"] = str(record.get("reason"))
        tables = {}
        if self.parameter_rows:
            tables["parameters"] = wandb.Table(columns=["step", "name", "value"], data=self.parameter_rows)
        if self.candidate_rows:
            tables["candidates"] = wandb.Table(columns=["id", "origin", "parents", "score", "tokens", "cost_usd",
                                                        "values"], data=self.candidate_rows)
        if tables:
            self.run.log(tables)
        with tempfile.TemporaryDirectory() as scratch:
            if run_dir is not None:
                self._artifact(Path(run_dir), Path(scratch))
            self.run.finish(exit_code=1 if record.get("reason") == "error" else 0)

    def _artifact(self, run_dir: Path, scratch: Path) -> None:
        """The report and the run's files, redacted, as one artifact of type ``trace_opt-run``."""
        from ...report import write_report

        if (run_dir / "events.jsonl").exists():
            write_report(run_dir, scratch / "report.html")
        artifact = self._wandb.Artifact(f"run-{self.run.id}", type="trace_opt-run")
        for name in (*RUN_FILES, "report.html"):
            source = scratch / name if name == "report.html" else run_dir / name
            if source.exists():
                (scratch / name).write_text(clean(source.read_text(encoding="utf-8")), encoding="utf-8")
                artifact.add_file(str(scratch / name))
        self.run.log_artifact(artifact)
