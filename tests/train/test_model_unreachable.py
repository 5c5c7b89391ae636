"""A model that cannot answer ends a training run with its cause; it is never scored as wrong
answers, and a run in which no call got a reply is an error, not a result."""
import pytest

import trace_opt as to
from trace_opt.llm import LocalModelCrashed, ModelNeverAnswered, health
from trace_opt.train import Trainer, read_events

from .fakes import TRAIN, VAL, ScriptedOptimizer, exact


def crashed() -> LocalModelCrashed:
    return LocalModelCrashed("the local model server died with SIGSEGV on its first request", signal_name="SIGSEGV",
                             exit_code=-11, log_path=None, restarts=2)


@to.bundle()
def ask_model(prompt: str, question: str) -> str:
    """Stands for an LLM call whose server is gone (a fake: no model is called)."""
    if prompt == "gone":
        raise crashed()
    return question.upper()


class Asker(to.Module):
    def __init__(self, prompt="fine"):
        super().__init__()
        self.prompt = to.Parameter(prompt)

    def forward(self, question):
        return ask_model(self.prompt, question)


def test_traced_operations_let_it_through_as_it_is():
    with pytest.raises(LocalModelCrashed):          # not TraceExecutionError: it is no feedback
        ask_model(to.Parameter("gone"), "q")

    class Client:
        def ask(self):
            raise crashed()

        def fail(self):
            raise ValueError("a bug of the workflow")

    with pytest.raises(LocalModelCrashed):          # a traced method call, the same
        to.node(Client()).call("ask")
    with pytest.raises(to.TraceExecutionError):     # while the workflow's own errors stay feedback
        to.node(Client()).call("fail")


@pytest.mark.parametrize("executor", ["thread", "async"])
def test_a_rollout_that_hits_it_ends_the_run_with_its_cause(tmp_path, executor):
    agent = Asker()
    trainer = Trainer(agent, ScriptedOptimizer(agent.parameters(), ["gone"]), TRAIN, VAL, exact, batch_size=2,
                      epochs=1, checkpoint_dir=tmp_path, progress=False, executor=executor)
    with pytest.raises(LocalModelCrashed):
        trainer.fit()
    end = read_events(tmp_path)[-1]
    assert end["event"] == "run_end" and end["reason"] == "error" and "SIGSEGV" in end["message"]
    assert agent.prompt.data == "fine"               # the step in flight was undone


def test_it_at_the_first_validation_is_logged_too(tmp_path):
    agent = Asker("gone")
    trainer = Trainer(agent, ScriptedOptimizer(agent.parameters(), ["x"]), TRAIN, VAL, exact, batch_size=2,
                      epochs=1, checkpoint_dir=tmp_path, progress=False)
    with pytest.raises(LocalModelCrashed):
        trainer.fit()
    assert read_events(tmp_path)[-1]["reason"] == "error"


def test_a_run_where_every_call_failed_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(health, "_health", health.Health())
    agent = Asker()
    optimizer = ScriptedOptimizer(agent.parameters(), ["fine"])
    real_step = optimizer.step

    def step_whose_llm_calls_all_fail():
        health.record_failure(RuntimeError("connection refused"))   # as the LLM client records one
        return real_step()

    optimizer.step = step_whose_llm_calls_all_fail
    trainer = Trainer(agent, optimizer, TRAIN, VAL, exact, batch_size=2, epochs=1, checkpoint_dir=tmp_path,
                      progress=False)
    with pytest.raises(ModelNeverAnswered, match="2 calls failed and none got a reply.*connection refused"):
        trainer.fit()
    assert read_events(tmp_path)[-1]["reason"] == "error"
    health.record_answer()                             # one reply, and the same run is a result
    assert health.never_answered() is None


def test_run_main_turns_it_into_exit_status_one(monkeypatch, capsys):
    monkeypatch.setattr(health, "_health", health.Health())
    assert to.llm.run_main(lambda: 0) == 0
    assert to.llm.run_main(lambda: (_ for _ in ()).throw(crashed())) == 1
    assert "error: LocalModelCrashed: the local model server died with SIGSEGV" in capsys.readouterr().err
    health.record_failure(RuntimeError("HTTP 401"))
    assert to.llm.run_main(lambda: 0) == 1
    assert "ModelNeverAnswered: the model never answered: 1 call failed" in capsys.readouterr().err
