"""Trainer: steps, validation with rollback, guards, events, budget stops, checkpoints."""
import json

import pytest

import trace_opt as to
from trace_opt.llm import BudgetExceeded
from trace_opt.train import Trainer, read_events
from trace_opt.train.checkpoint import load_checkpoint

from .fakes import TRAIN, VAL, Echo, ScriptedOptimizer, exact


def make(values, tmp_path=None, **options):
    agent = Echo()
    opt = ScriptedOptimizer(agent.parameters(), values)
    options = {"batch_size": 2, "epochs": 2, **options}
    return agent, Trainer(agent, opt, TRAIN, VAL, exact, checkpoint_dir=tmp_path, progress=False, **options)


def test_training_keeps_an_improvement_and_rolls_back_a_worse_proposal(tmp_path):
    agent, trainer = make(["shout", "whisper", "shout please", "shout"], tmp_path)
    result = trainer.fit()
    assert result.reason == "done" and result.steps == 4 and result.best_val_score == 1.0
    assert agent.prompt.data in ("shout", "shout please")
    steps = [e for e in read_events(tmp_path) if e["event"] == "step"]
    assert [s["val_score"] for s in steps][:2] == [1.0, 0.0]
    assert steps[1]["rolled_back"] and "validation fell from 1 to 0" in steps[1]["reason"]
    assert steps[1]["parameters"] == {"prompt": "shout"}  # restored after the rollback
    assert steps[0]["accepted"] and steps[0]["train_score"] == 0.0


def test_a_tie_never_replaces_the_incumbent_unless_asked():
    agent, trainer = make(["whisper", "shout"], None, epochs=1)  # whisper ties "repeat" at 0.0 on validation
    trainer.fit()
    assert agent.prompt.data == "shout" and trainer.best_val == 1.0
    agent, trainer = make(["whisper"], None, epochs=1)
    steps = []
    trainer.callbacks.append(lambda t, record: steps.append(record))
    trainer.fit()
    assert agent.prompt.data == "repeat" and all(s["rolled_back"] for s in steps)
    assert "a tie keeps the current values" in steps[0]["reason"] and not steps[0]["accepted"]
    agent, trainer = make(["whisper"], None, epochs=1, keep_ties=True)
    trainer.fit()
    assert agent.prompt.data == "whisper"


def test_min_delta_asks_for_a_clear_gain():
    agent, trainer = make(["shout"], None, epochs=1, min_delta=1.5)  # 0 -> 1 is not enough
    trainer.fit()
    assert agent.prompt.data == "repeat" and trainer.best_val == 0.0
    with pytest.raises(ValueError, match="min_delta"):
        make(["shout"], None, min_delta=-0.1)


class ChoosingOptimizer(ScriptedOptimizer):
    """A fake that chooses among scripted candidates by the evaluate function it is handed."""

    def __init__(self, params, candidates):
        super().__init__(params, [None])
        self.candidates, self.scored = candidates, []

    def step(self, evaluate=None):
        param = self.parameters()[0]
        best, best_score = None, evaluate()
        for value in self.candidates:
            previous, param.data = param.data, value
            score = evaluate()
            param.data = previous
            self.scored.append((value, score))
            if score > best_score:
                best, best_score = value, score
        if best is not None:
            param.data = best


def test_the_trainer_hands_validation_to_an_optimizer_that_chooses_and_runs_each_candidate_once():
    agent = Echo()
    optimizer = ChoosingOptimizer(agent.parameters(), ["whisper", "shout", "repeat"])
    runs = []
    trainer = Trainer(agent, optimizer, TRAIN, VAL, exact, batch_size=4, epochs=1, progress=False)
    evaluate = trainer.evaluate
    trainer.evaluate = lambda rows: runs.append(agent.prompt.data) or evaluate(rows)
    trainer.fit()
    assert agent.prompt.data == "shout" and optimizer.scored == [("whisper", 0.0), ("shout", 1.0), ("repeat", 0.0)]
    assert sorted(runs) == ["repeat", "shout", "whisper"]  # the baseline, each candidate, and no re-run after


def test_events_checkpoint_and_graph_are_written(tmp_path):
    _, trainer = make(["shout"], tmp_path)
    trainer.fit()
    kinds = [e["event"] for e in read_events(tmp_path)]
    assert kinds[0] == "run_start" and kinds[-1] == "run_end" and kinds.count("step") == 4
    assert kinds.count("checkpoint") == 4
    state = load_checkpoint(tmp_path)
    assert state["step"] == 4 and state["agent"] == {"prompt": "shout"} and state["optimizer"]["steps"] == 4
    graph = to.graph.from_json(json.dumps(json.loads((tmp_path / "graph.json").read_text())))
    assert graph.data in {t for _, t in TRAIN} | {q for q, _ in TRAIN}


def test_a_rollout_that_raises_becomes_feedback_and_training_goes_on(tmp_path):
    # keep_ties: the crashing prompt ties the first one on validation (both 0) and is kept, so step 2 crashes
    agent, trainer = make(["crash now", "shout"], tmp_path, keep_ties=True)
    result = trainer.fit()
    assert result.reason == "done" and agent.prompt.data == "shout"
    steps = [e for e in read_events(tmp_path) if e["event"] == "step"]
    assert steps[1]["train_score"] == 0.0  # every rollout of step 2 crashed under "crash now"
    crash_feedback = trainer.optimizer.seen[1]
    assert len(crash_feedback) == 2 and all("the prompt made the agent crash" in text for text in crash_feedback)


def test_the_budget_stops_the_run_cleanly_with_the_checkpoint_intact(tmp_path):
    agent, trainer = make(["shout", BudgetExceeded("max_calls", 3, 3)], tmp_path)
    result = trainer.fit()
    assert result.reason == "budget" and result.steps == 1 and "max_calls" in read_events(tmp_path)[-1]["message"]
    assert load_checkpoint(tmp_path)["step"] == 1 and agent.prompt.data == "shout"


def test_guards_undo_bloat_and_copied_examples(tmp_path):
    agent, trainer = make(["shout " + "x" * 100], tmp_path, max_param_chars=50)
    trainer.fit()
    assert agent.prompt.data == "repeat"
    assert "over max_param_chars=50" in [e for e in read_events(tmp_path) if e["event"] == "step"][0]["reason"]
    agent, trainer = make(["shout like: Hello There My Friend"], None)
    trainer.fit()
    assert agent.prompt.data == "repeat"


def test_early_stopping_after_patience_steps_without_improvement():
    agent, trainer = make(["shout"], None, patience=2)
    result = trainer.fit()
    assert result.reason == "early_stop" and result.steps == 3


def test_a_callback_can_stop_the_run():
    agent, trainer = make(["shout"], None, callbacks=[lambda t, record: "stop" if record["step"] == 2 else None])
    assert trainer.fit().steps == 2


def test_bad_input_is_named():
    agent = Echo()
    opt = ScriptedOptimizer(agent.parameters(), ["x"])
    with pytest.raises(TypeError, match="Module as agent"):
        Trainer("agent", opt, TRAIN, guide=exact)
    with pytest.raises(TypeError, match="needs a guide"):
        Trainer(agent, opt, TRAIN)
    with pytest.raises(ValueError, match="batch_size"):
        Trainer(agent, opt, TRAIN, guide=exact, batch_size=0)
    with pytest.raises(TypeError, match="each train row"):
        Trainer(agent, opt, ["just a string"], guide=exact)
    with pytest.raises(TypeError, match="a guide must return"):
        Trainer(agent, opt, TRAIN, guide=lambda o, t: [1], progress=False).fit()


@pytest.fixture(scope="module")
def ray_executor():
    pytest.importorskip("ray")
    from trace_opt.exec import RayExecutor

    executor = RayExecutor(num_cpus=2)  # a local cluster with 2 CPUs
    yield executor
    executor.close()


def test_the_same_training_gives_the_same_result_on_ray(ray_executor, tmp_path):
    _, default = make(["shout", "whisper", "shout please"], tmp_path / "a")
    agent, on_ray = make(["shout", "whisper", "shout please"], tmp_path / "b", executor=ray_executor)
    assert default.fit().history == on_ray.fit().history
    assert load_checkpoint(tmp_path / "a")["agent"] == load_checkpoint(tmp_path / "b")["agent"]
    assert agent.prompt.feedback and agent.prompt.feedback[0].parameter is agent.prompt  # graphs came back linked


@pytest.mark.parametrize("executor", ["thread", "async"])
def test_the_same_training_gives_the_same_result_on_each_executor(executor, tmp_path):
    _, default = make(["shout", "whisper", "shout please"], tmp_path / "a")  # threads
    _, other = make(["shout", "whisper", "shout please"], tmp_path / "b", executor=executor)
    assert default.fit().history == other.fit().history
    assert load_checkpoint(tmp_path / "a")["agent"] == load_checkpoint(tmp_path / "b")["agent"]


def test_ctrl_c_mid_step_undoes_the_step_and_logs_the_end(tmp_path):
    """KeyboardInterrupt is not an Exception: it still gets the clean end, reason 'interrupted'."""
    agent = Echo()
    optimizer = ScriptedOptimizer(agent.parameters(), ["shout it", KeyboardInterrupt()])
    trainer = Trainer(agent, optimizer, TRAIN, guide=exact, batch_size=2, checkpoint_dir=tmp_path, progress=False)
    with pytest.raises(KeyboardInterrupt):
        trainer.fit()
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert events[-1]["event"] == "run_end" and events[-1]["reason"] == "interrupted"
    assert agent.prompt.data == "shout it" and load_checkpoint(tmp_path)["step"] == 1
