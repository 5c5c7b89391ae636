"""A training run survives faults and loses nothing: a guide, a rollout or the optimizer that
raises, a disk that fills during a checkpoint (SIGKILL and SIGTERM: test_run_signals.py).

For each fault the run either completes or stops with a clear reason; the last checkpoint is
whole and loadable at the expected step; no parameter holds a value it never legitimately had
(a half-applied update); a run a full disk stopped resumes to the same end as one that was
never interrupted. The optimizers here are scripted fakes (no LLM).
"""
import errno
import logging
import os
import threading

import pytest

from trace_opt.graph import serialize
from trace_opt.train import Trainer, events, read_events
from trace_opt.train.checkpoint import load_checkpoint

from ..train.fakes import Echo, exact
from .checks import PLAIN, assert_intact, make, pair
from . import interrupted_run
from .interrupted_run import SCRIPT, Shouter, TwoStepOptimizer

LEGIT = {"repeat", *PLAIN}  # Echo's initial prompt and every value the fake optimizer proposes


# -- the guide and the agent raise ---------------------------------------------------------------
def test_a_guide_that_raises_on_some_rows_costs_those_rows_only(tmp_path, caplog):
    def guide(output, target):
        if target == "NICE DAY":
            raise ValueError("the judge cannot parse 'Nice Day'")
        return exact(output, target)

    agent, trainer = make(tmp_path, guide=guide)
    result = trainer.fit()
    assert result.reason == "done" and result.steps == 4
    steps = [e for e in read_events(tmp_path) if e["event"] == "step"]
    failed = [s for s in steps if s["reason"] and "the guide raised on 1 of 2 outputs" in s["reason"]]
    assert len(failed) == 2 and all("cannot parse 'Nice Day'" in s["reason"] for s in failed)  # once per epoch
    assert "the guide raised on an output (scored 0, no feedback)" in caplog.text
    # the row the guide could not judge sent no feedback: one record reached the prompt, not two
    assert sorted(len(seen) for seen in trainer.optimizer.seen) == [1, 1, 2, 2]
    assert assert_intact(tmp_path, 4)["agent"]["prompt"] in LEGIT and agent.prompt.data in LEGIT


def test_a_guide_that_raises_on_every_row_stops_the_run_with_its_error(tmp_path):
    broken = threading.Event()

    def guide(output, target):
        if broken.is_set():
            raise ConnectionError("judge service unreachable")
        return exact(output, target)

    def break_after_step_2(trainer, record):
        if record["step"] == 2:
            broken.set()

    agent, trainer = make(tmp_path, guide=guide, callbacks=[break_after_step_2])
    with pytest.raises(ConnectionError, match="judge service unreachable"):
        trainer.fit()
    end = read_events(tmp_path)[-1]
    assert end["event"] == "run_end" and end["reason"] == "error" and end["steps"] == 2
    assert end["message"] == "ConnectionError: judge service unreachable"
    state = assert_intact(tmp_path, 2)
    assert agent.prompt.data == state["agent"]["prompt"] in LEGIT  # step 3 never happened


class Flaky(Echo):
    """Raises outside any bundle on one input (a bug in the agent's own Python)."""

    def forward(self, question):
        if question == "Good Morning":
            raise RuntimeError("agent bug on 'Good Morning'")
        return super().forward(question)


@pytest.mark.parametrize("values", [PLAIN, ["crash now", "shout"]], ids=["agent-code", "traced-bundle"])
def test_a_rollout_that_raises_is_feedback_and_the_run_completes(tmp_path, values, caplog):
    caplog.set_level(logging.INFO, logger="trace_opt.train")
    # keep_ties: "crash now" ties the first prompt on validation and is kept, so step 2's bundle raises
    agent, trainer = make(tmp_path, values=values, agent=Flaky(), keep_ties=True)
    result = trainer.fit()
    assert result.reason == "done" and result.steps == 4
    assert "rollout failed: RuntimeError: agent bug on 'Good Morning'" in caplog.text
    if values[0] == "crash now":  # the bundle's error reached the prompt as feedback
        assert any("the prompt made the agent crash" in text for text in trainer.optimizer.seen[1])
    state = assert_intact(tmp_path, 4)
    assert state["agent"]["prompt"] in {"repeat", *values} and agent.prompt.data in {"repeat", *values}


class Bug:
    """In place of the gate: the optimizer raises between its two parameter updates at step 2."""

    step = 2

    def wait(self):
        raise RuntimeError("optimizer bug halfway through an update")


def test_an_optimizer_that_raises_halfway_leaves_no_half_applied_update(tmp_path):
    agent = Shouter()
    trainer = Trainer(agent, TwoStepOptimizer(agent.parameters(), Bug()), interrupted_run.TRAIN, interrupted_run.VAL,
                      interrupted_run.exact, batch_size=1, checkpoint_dir=tmp_path, progress=False, seed=5)
    with pytest.raises(RuntimeError, match="halfway"):
        trainer.fit()  # the process held ("whisper", "!"): the prompt of step 2 and the tail of step 1
    state = assert_intact(tmp_path, 1)
    assert (agent.prompt.data, agent.tail.data) == pair(state) == SCRIPT[0]
    end = read_events(tmp_path)[-1]
    assert end["reason"] == "error" and end["message"] == "RuntimeError: optimizer bug halfway through an update"


# -- the disk fills ------------------------------------------------------------------------------
class FullDisk:
    """``os`` and ``tempfile`` for serialize.py, and ``open`` for events.py, whose files take
    ``room`` bytes and then fail with ENOSPC, once ``full`` is set (by a callback, between steps)."""

    def __init__(self, room=64, events_too=False):
        self.room, self.events_too, self.full = room, events_too, False
        self.temps, self.failures = [], []

    # serialize.py's view of os and tempfile
    def __getattr__(self, name):
        return getattr(os, name)

    def mkstemp(self, **kwargs):
        import tempfile

        fd, path = tempfile.mkstemp(**kwargs)
        self.temps.append(path)
        return fd, path

    def fdopen(self, fd, *args, **kwargs):
        return self.wrap(os.fdopen(fd, *args, **kwargs))

    def open(self, path, *args, **kwargs):  # events.py's open
        handle = open(path, *args, **kwargs)
        return self.wrap(handle) if self.events_too else handle

    def wrap(self, handle):
        disk = self
        if not self.full:
            return handle

        class Filling:
            def __init__(self):
                self.left = disk.room

            def write(self, data):
                handle.write(data[:self.left])
                handle.flush()
                if len(data) > self.left:
                    self.left = 0
                    disk.failures.append(getattr(handle, "name", "?"))
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                self.left -= len(data)
                return len(data)

            def __getattr__(self, name):
                return getattr(handle, name)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                handle.close()

        return Filling()


def fill_after_step_2(disk):
    def callback(trainer, record):
        if record["step"] == 2:
            disk.full = True
    return callback


@pytest.mark.parametrize("events_too", [False, True], ids=["checkpoint-write", "checkpoint-and-event-log"])
def test_a_full_disk_stops_the_run_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch, caplog, events_too):
    """The run stops (not retried next step: a full disk rarely empties itself, and a run going on
    without checkpoints would risk more than it saves) with the error naming the checkpoint; the
    previous checkpoint.json is byte for byte what it was; resume() after space is freed goes on."""
    _, whole = make(tmp_path / "whole")
    expected = whole.fit()
    disk = FullDisk(events_too=events_too)
    monkeypatch.setattr(serialize, "os", disk)
    monkeypatch.setattr(serialize, "tempfile", disk)
    monkeypatch.setattr(events, "open", disk.open, raising=False)
    run_dir = tmp_path / "full"
    saved = {}

    def keep_checkpoint(trainer, record):
        saved[record["step"]] = (run_dir / "checkpoint.json").read_bytes()

    agent, trainer = make(run_dir, callbacks=[fill_after_step_2(disk), keep_checkpoint])
    with pytest.raises(OSError) as caught:
        trainer.fit()
    assert caught.value.errno == errno.ENOSPC and "No space left on device" in str(caught.value)
    assert disk.failures and all(not os.path.exists(tmp) for tmp in disk.temps)  # a failed write removes its temp
    assert (run_dir / "checkpoint.json").read_bytes() == saved[2]
    assert "training stopped by an error after 3 steps" in caplog.text
    if events_too:  # the step event was cut off mid-line, the run_end could not be written
        assert disk.failures[0].endswith("events.jsonl") and "run_end not logged" in caplog.text
        assert not (run_dir / "events.jsonl").read_text().endswith("\n")
    else:
        assert "the checkpoint of step 3 was not written" in str(caught.value)
        assert "checkpoint.json still holds the previous one" in str(caught.value)
        end = read_events(run_dir)[-1]
        assert end["event"] == "run_end" and end["reason"] == "error" and "checkpoint of step 3" in end["message"]
    state = load_checkpoint(run_dir)
    assert state["step"] == 2 and state["agent"]["prompt"] in LEGIT and agent.prompt.data in LEGIT

    monkeypatch.undo()  # space freed
    agent, again = make(run_dir)
    result = again.resume()
    assert result.reason == "done" and result.steps == 4 and result.history == expected.history
    assert load_checkpoint(run_dir)["agent"] == load_checkpoint(tmp_path / "whole")["agent"]
    kinds = [e["event"] for e in read_events(run_dir)]  # a torn line costs only itself
    assert kinds.count("run_start") == 2 and kinds[-1] == "run_end" and kinds.count("step") == (4 if events_too else 5)


def test_a_torn_last_event_line_does_not_swallow_the_next_event(tmp_path):
    log = events.EventLog(tmp_path)
    log.write("step", step=1)
    with open(tmp_path / "events.jsonl", "a", encoding="utf-8") as handle:
        handle.write('{"event": "step", "step": 2, "par')  # what a kill in the middle of a write leaves
    log.write("run_start", resumed_from=1)
    assert [e["event"] for e in read_events(tmp_path)] == ["step", "run_start"]
