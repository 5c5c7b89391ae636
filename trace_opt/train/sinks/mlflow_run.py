"""``MLflowSink``: one MLflow run per Trainer (or search) run, nested runs for a search's candidates.

What goes where: the run's settings and starting parameter values as params (values cut to 500
characters; each whole in a text artifact), scores, acceptance, calls, tokens and cost as metrics
per step, every step's parameter values and proposals as ``steps/step_NNNN.json``, and at the end
the HTML report, the checkpoint, the last trace and the event log as artifacts. Everything is
redacted first. It talks to the tracking store through ``MlflowClient`` (no global active run is
changed); a run started inside ``mlflow.start_run()`` is nested under it. ``resume()`` continues
the same MLflow run (its id is kept in RUN_DIR/mlflow_run.json).
"""
from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any, Dict, Optional

from .base import RUN_FILES, RunSink, clean, clean_json, keep_run_id, kept_run_id, metrics_of, short, status_of

RUN_ID_FILE = "mlflow_run.json"


class MLflowSink(RunSink):
    def __init__(self, tracking_uri: Optional[str] = None, experiment: str = "trace_opt",
                 run_name: Optional[str] = None, tags: Optional[Dict[str, str]] = None,
                 artifact_location: Optional[str] = None) -> None:
        import mlflow
        from mlflow.tracking import MlflowClient

        self._mlflow = mlflow
        self.tracking_uri = tracking_uri or mlflow.get_tracking_uri()
        self.client = MlflowClient(self.tracking_uri)
        self.experiment, self.run_name, self.tags = experiment, run_name, dict(tags or {})
        self.artifact_location = artifact_location  # for a new experiment (MLflow's default: ./mlruns)
        self.run_id: Optional[str] = None
        self.candidates: Dict[int, str] = {}

    # -- events ------------------------------------------------------------------------------
    def on_run_start(self, record: Dict[str, Any], run_dir: Optional[Path]) -> None:
        kept = kept_run_id(run_dir, RUN_ID_FILE) if record.get("resumed_from") else None
        if kept is not None:
            self.run_id = kept
            self.client.update_run(kept, status="RUNNING")
            return
        self.run_id = self._create(self.run_name or f"{record.get('agent')} / {record.get('optimizer')}",
                                   {**self.tags, **self._parent_tag(),
                                    "trace_opt.agent": str(record.get("agent")),
                                    "trace_opt.optimizer": str(record.get("optimizer"))})
        keep_run_id(run_dir, RUN_ID_FILE, self.run_id)
        params = {"agent": record.get("agent"), "optimizer": record.get("optimizer"),
                  **({"search": record["search"]} if record.get("search") else {}),
                  **{f"config.{k}": v for k, v in (record.get("config") or {}).items()},
                  **{f"param.{k}": v for k, v in (record.get("parameters") or {}).items()}}
        self._params(self.run_id, params)
        self.client.log_text(self.run_id, clean_json(record.get("parameters") or {}), "parameters/start.json")

    def on_step(self, record: Dict[str, Any], run_dir: Optional[Path]) -> None:
        self._metrics(self.run_id, metrics_of(record), record["step"], record["time"])
        self.client.log_text(self.run_id, clean_json({key: record.get(key) for key in (
            "step", "epoch", "accepted", "rolled_back", "reason", "parameters", "proposals")}),
            f"steps/step_{record['step']:04d}.json")

    def on_iteration(self, record: Dict[str, Any], run_dir: Optional[Path]) -> None:
        self._metrics(self.run_id, metrics_of(record), record["iteration"], record["time"])

    def on_candidate(self, record: Dict[str, Any], run_dir: Optional[Path]) -> None:
        """A search's candidate as a nested run: its origin, parents, values and scores."""
        child = self._create(f"candidate {record['id']}", {"mlflow.parentRunId": self.run_id,
                                                            "trace_opt.origin": str(record.get("origin")),
                                                            "trace_opt.parents": str(record.get("parents"))})
        self.candidates[record["id"]] = child
        self._params(child, {"id": record["id"], "iteration": record.get("iteration"),
                             **{f"param.{k}": v for k, v in (record.get("values") or {}).items()}})
        numbers = {key: record.get(key) for key in ("score", "tokens", "cost_usd", "seconds")}
        self._metrics(child, {k: float(v) for k, v in numbers.items() if isinstance(v, (int, float))},
                      record.get("iteration") or 0, record["time"])
        self.client.log_text(child, clean_json(record.get("values") or {}), "parameters/values.json")
        self.client.set_terminated(child, "FINISHED")

    def on_run_end(self, record: Dict[str, Any], run_dir: Optional[Path]) -> None:
        if isinstance(record.get("best_val_score"), (int, float)):
            self._metrics(self.run_id, {"best_val_score": float(record["best_val_score"])},
                          record.get("steps") or record.get("iterations") or 0, record["time"])
        self.client.set_tag(self.run_id, "trace_opt.reason", str(record.get("reason")))
        if record.get("message"):
            self.client.set_tag(self.run_id, "trace_opt.message", short(record["message"]))
        if run_dir is not None:
            self._artifacts(Path(run_dir))
        self.client.set_terminated(self.run_id, status_of(record.get("reason")))

    # -- MLflow ------------------------------------------------------------------------------
    def _create(self, name: str, tags: Dict[str, str]) -> str:
        experiment = self.client.get_experiment_by_name(self.experiment)
        experiment_id = experiment.experiment_id if experiment is not None else \
            self.client.create_experiment(self.experiment, artifact_location=self.artifact_location)
        return self.client.create_run(experiment_id, run_name=clean(name),
                                      tags={k: clean(v) for k, v in tags.items()}).info.run_id

    def _parent_tag(self) -> Dict[str, str]:
        """Nest under the user's ``mlflow.start_run()`` when one is active on this tracking store."""
        active = self._mlflow.active_run()
        if active is None or self._mlflow.get_tracking_uri() != self.tracking_uri:
            return {}
        return {"mlflow.parentRunId": active.info.run_id}

    def _params(self, run_id: str, params: Dict[str, Any]) -> None:
        from mlflow.entities import Param

        self.client.log_batch(run_id, params=[Param(_key(k), short(v)) for k, v in params.items() if v is not None])

    def _metrics(self, run_id: str, metrics: Dict[str, float], step: int, at: float) -> None:
        from mlflow.entities import Metric

        stamp = int(at * 1000)
        self.client.log_batch(run_id, metrics=[Metric(_key(k), v, stamp, int(step)) for k, v in metrics.items()])

    def _artifacts(self, run_dir: Path) -> None:
        """The report and the run's files, each redacted, under ``run/``."""
        from ...report import write_report

        with tempfile.TemporaryDirectory() as scratch:
            if (run_dir / "events.jsonl").exists():
                write_report(run_dir, Path(scratch) / "report.html")
            for name in RUN_FILES:
                if (run_dir / name).exists():
                    (Path(scratch) / name).write_text(clean((run_dir / name).read_text(encoding="utf-8")),
                                                      encoding="utf-8")
            report = Path(scratch) / "report.html"
            if report.exists():
                report.write_text(clean(report.read_text(encoding="utf-8")), encoding="utf-8")
            self.client.log_artifacts(self.run_id, scratch, "run")


def _key(name: str) -> str:
    """A name MLflow accepts as a param or metric key."""
    return re.sub(r"[^\w\-. /]", "_", str(name))[:250]
