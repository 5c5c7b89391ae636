"""Run sinks against the real libraries: a Trainer run and a search logged to a real MLflow
tracking store (SQLite in a temp dir, read back through MLflow's own client) and to Weights &
Biases in offline mode (read back from the run's own files). The agents and optimizers are the
scripted fakes of tests/train/fakes.py (not LLMs, not recordings)."""
import json

import pytest

import trace_opt as to
from trace_opt.train import ParetoSearch, Trainer
from trace_opt.train.run_log import RunLog

from .wandb_offline import read_offline_run
from .fakes import STYLE_ROWS, TRAIN, VAL, Echo, ScriptedMutation, ScriptedOptimizer, Styler, exact

SECRET = "hunter2-not-for-logs-0123456789"


def shouting_run(tmp_path, monkeypatch, sink):
    """Two steps: the first changes the prompt to one that shouts (validation rises, kept)."""
    monkeypatch.setenv("ACME_SERVICE_TOKEN", SECRET)        # a credential-named variable: its value is a secret
    agent = Echo()
    agent.prompt.data = f"repeat (token {SECRET})"           # a user who put a key where it does not belong
    optimizer = ScriptedOptimizer([agent.prompt], ["shout", "shout louder"])
    trainer = Trainer(agent, optimizer, TRAIN, VAL, exact, batch_size=2, checkpoint_dir=tmp_path / "run",
                      progress=False, sinks=[sink])
    return trainer.fit()


def test_a_trainer_run_is_logged_to_a_real_mlflow_store_and_holds_no_secret(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = shouting_run(tmp_path, monkeypatch, to.train.sinks.MLflowSink(
        uri, experiment="shouting", artifact_location=str(tmp_path / "artifacts")))
    client = MlflowClient(uri)
    [run] = client.search_runs([client.get_experiment_by_name("shouting").experiment_id])
    assert run.info.status == "FINISHED" and run.data.tags["trace_opt.reason"] == "done"
    assert run.data.params["config.batch_size"] == "2" and run.data.params["optimizer"] == "ScriptedOptimizer"
    assert run.data.params["param.prompt"] == "repeat (token ***)"
    history = {key: [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, key)]
               for key in ("train_score", "val_score", "accepted", "total_tokens")}
    assert [step for step, _ in history["val_score"]] == [1, 2] and history["val_score"][0][1] == 1.0
    assert history["accepted"] == [(1, 1.0), (2, 0.0)] and run.data.metrics["best_val_score"] == result.best_val_score
    names = _artifact_paths(client, run.info.run_id)
    assert {"parameters/start.json", "steps/step_0001.json", "steps/step_0002.json", "run/report.html",
            "run/checkpoint.json", "run/events.jsonl", "run/graph.json"} <= names
    step = json.loads(client.download_artifacts(run.info.run_id, "steps/step_0001.json", str(tmp_path / "dl")) and
                      (tmp_path / "dl" / "step_0001.json").read_text())
    assert step["parameters"]["prompt"] == "shout" and step["accepted"] is True
    everything = [json.dumps([run.data.params, run.data.tags, run.data.metrics])]
    for name in names:
        local = client.download_artifacts(run.info.run_id, name, str(tmp_path / "all"))
        everything.append(open(local, encoding="utf-8").read())
    assert all(SECRET not in text for text in everything)
    assert SECRET in (tmp_path / "run" / "events.jsonl").read_text()  # the secret was really in the run's data


def test_a_search_logs_each_candidate_as_a_nested_mlflow_run(tmp_path):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    agent = Styler()
    search = ParetoSearch(agent, ScriptedMutation(agent, [{"case": "upper"}, {"mark": "!"}]), STYLE_ROWS, STYLE_ROWS,
                          exact, minibatch_size=len(STYLE_ROWS), max_iterations=3, seed=4, progress=False,
                          checkpoint_dir=tmp_path / "run", sinks=[to.train.sinks.MLflowSink(uri, "search", artifact_location=str(tmp_path / "artifacts"))])
    result = search.fit()
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("search").experiment_id])
    [parent] = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(children) == len(result.pool) >= 2
    scores = sorted(c.data.metrics["score"] for c in children)
    assert scores == sorted(c.score for c in result.pool)
    assert {c.data.tags["trace_opt.origin"] for c in children} >= {"seed"}
    assert [m.step for m in client.get_metric_history(parent.info.run_id, "child_score")] == [1, 2, 3]


def test_a_sink_that_fails_is_left_out_and_the_run_goes_on(tmp_path, caplog):
    class Broken(to.train.sinks.RunSink):
        def on_step(self, record, run_dir):
            raise ConnectionError("tracking server gone")

    seen = []

    class Counting(to.train.sinks.RunSink):
        def write(self, record, run_dir):
            seen.append(record["event"])

    agent = Echo()
    trainer = Trainer(agent, ScriptedOptimizer([agent.prompt], ["shout"]), TRAIN, VAL, exact, batch_size=2,
                      progress=False, sinks=[Broken(), Counting()])
    result = trainer.fit()
    assert result.reason == "done" and result.steps == 2 and agent.prompt.data == "shout"
    assert seen == ["run_start", "step", "step", "run_end"]          # no run dir: no checkpoint events
    assert "Broken sink failed on 'step'" in caplog.text and "tracking server gone" in caplog.text
    with pytest.raises(TypeError, match="write"):
        RunLog(None, [object()])


def test_a_trainer_run_is_logged_to_weights_and_biases_offline(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_SILENT", "true")
    sink = to.train.sinks.WandbSink(project="shouting", mode="offline", dir=str(tmp_path))
    result = shouting_run(tmp_path, monkeypatch, sink)
    records = read_offline_run(sink.local_dir)
    steps = [r for r in records["history"] if "val_score" in r]
    assert [r["_step"] for r in steps] == [1, 2] and steps[0]["val_score"] == 1.0
    assert records["config"]["config.batch_size"] == 2 and records["summary"]["best_val_score"] == result.best_val_score
    assert SECRET not in json.dumps(records)


def _artifact_paths(client, run_id, path=None):
    found = set()
    for item in client.list_artifacts(run_id, path):
        found |= _artifact_paths(client, run_id, item.path) if item.is_dir else {item.path}
    return found
