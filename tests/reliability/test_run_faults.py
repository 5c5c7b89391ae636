"""A training run survives faults and loses nothing: a guide or a rollout that raises, a disk
that fills during a checkpoint, SIGKILL and SIGTERM in the middle of a step.

For each fault the run either completes or stops with a clear reason; the last checkpoint is
whole and loadable at the expected step; no parameter holds a value it never legitimately had
(a half-applied update); and a killed or terminated run resumes to the same end as one that
was never interrupted. The optimizers here are scripted fakes (no LLM); the kills land while a
step is provably in flight: the run in its own process waits at a gate and says so in a file.
"""
import errno
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from trace_opt.graph import serialize
from trace_opt.train import Trainer, events, read_events
from trace_opt.train.checkpoint import load_checkpoint

from ..train.fakes import TRAIN, VAL, Echo, ScriptedOptimizer, exact
from . import interrupted_run
from .interrupted_run import INITIAL, SCRIPT, Shouter, TwoStepOptimizer

ROOT = Path(__file__).resolve().parents[2]
PLAIN = ["shout", "whisper", "shout please", "shout"]  # the scripted values of the in-process runs
LEGIT = {"repeat", *PLAIN}  # Echo's initial prompt and every value the fake optimizer proposes
LEGIT_PAIRS = {INITIAL, *SCRIPT}  # the same for the two-parameter agent of interrupted_run.py


def make(tmp_path, values=PLAIN, guide=exact, agent=None, **options):
    agent = agent or Echo()
    opt = ScriptedOptimizer(agent.parameters(), values)
    options = {"batch_size": 2, "epochs": 2, "progress": False, **options}
    return agent, Trainer(agent, opt, TRAIN, VAL, guide, checkpoint_dir=tmp_path, **options)


def assert_intact(run_dir, step, temps=0):
    """The checkpoint loads, is at ``step``, and holds exactly the parameters logged for that step
    (never a mix of two steps); ``temps``: temp files a kill may have left (a failed write leaves none)."""
    state = load_checkpoint(run_dir)
    assert state["step"] == step and len(state["history"]) == step
    logged = [e for e in read_events(run_dir) if e["event"] == "step" and e["step"] == step]
    assert state["agent"] == logged[-1]["parameters"]
    assert len(list(Path(run_dir).glob(".*.tmp"))) == temps
    return state


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
    agent, trainer = make(tmp_path, values=values, agent=Flaky())
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


# -- SIGKILL and SIGTERM in the middle of a step, in a process of its own -------------------------
needs_proc = pytest.mark.skipif(not Path("/proc/self/status").exists() or not hasattr(signal, "SIGKILL"),
                                reason="reads signal dispositions from /proc (Linux)")


def start(run_dir, *args):
    return subprocess.Popen([sys.executable, "-m", "tests.reliability.interrupted_run", str(run_dir), *args],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run(run_dir, *args):
    done = subprocess.run([sys.executable, "-m", "tests.reliability.interrupted_run", str(run_dir), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def wait_until(condition, what, process, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"the run ended before {what}: {process.stderr.read()[-3000:]}")
        if time.monotonic() > deadline:
            process.kill()  # a run left waiting would go on later and write into tmp_path
            process.wait()
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


def catches_sigterm(pid):
    """Whether the process has a handler for SIGTERM (Linux: the SigCgt mask in /proc)."""
    status = Path(f"/proc/{pid}/status").read_text()
    mask = next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(mask, 16) >> (signal.SIGTERM - 1) & 1)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("uninterrupted")
    return json.loads(run(run_dir).stdout.splitlines()[-1]), load_checkpoint(run_dir)


def blocked(run_dir, step, where):
    """A run started in its own process and now waiting inside step ``step``."""
    process = start(run_dir, "--block-at", str(step), "--block-in", where)
    wait_until(lambda: (run_dir / "blocked").exists(), f"step {step} to block", process)
    return process


def assert_resumes_like_the_uninterrupted_run(run_dir, uninterrupted):
    line, state = uninterrupted
    assert json.loads(run(run_dir, "--resume").stdout.splitlines()[-1]) == line  # [8, "done", ...]
    got = load_checkpoint(run_dir)
    assert (got["step"], got["agent"], got["optimizer"], got["history"]) == \
        (state["step"], state["agent"], state["optimizer"], state["history"])
    assert not list(run_dir.glob(".*.tmp"))  # resume cleared what the kill left


def pair(state):
    return state["agent"]["prompt"], state["agent"]["tail"]


@needs_proc
@pytest.mark.parametrize("where, step", [("optimizer", 4), ("checkpoint", 6)])
def test_sigkill_mid_step_keeps_the_last_checkpoint_and_resumes_to_the_same_end(tmp_path, uninterrupted,
                                                                                 where, step):
    """optimizer: killed between the updates of the two parameters (the process held ("repeat", "!"),
    a pair no step ever made); checkpoint: killed after the new checkpoint went to its temp file,
    before it replaced checkpoint.json."""
    process = blocked(tmp_path, step, where)
    try:
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        process.kill()
    state = assert_intact(tmp_path, step - 1, temps=0 if where == "optimizer" else 1)
    assert pair(state) in LEGIT_PAIRS
    if where == "checkpoint":  # the kill left the finished temp file; checkpoint.json is the previous one
        temps = list(tmp_path.glob(".checkpoint.json.*.tmp"))
        assert len(temps) == 1 and json.loads(temps[0].read_text())["step"] == step
    assert_resumes_like_the_uninterrupted_run(tmp_path, uninterrupted)
    kinds = [e["event"] for e in read_events(tmp_path)]
    assert kinds.count("run_start") == 2 and kinds.count("run_end") == 1


@needs_proc
def test_sigterm_mid_step_finishes_the_step_checkpoints_it_and_stops(tmp_path, uninterrupted):
    process = blocked(tmp_path, 5, "optimizer")
    try:
        assert catches_sigterm(process.pid)  # the trainer's handler is in place during the step
        process.send_signal(signal.SIGTERM)
        wait_until(lambda: not catches_sigterm(process.pid), "the SIGTERM to be handled", process)
        (tmp_path / "release").touch()
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, err[-3000:]
    assert json.loads(out.splitlines()[-1])[:2] == [5, "interrupted"]
    assert "SIGTERM: stopped after step 5, checkpointed" in err  # the log line
    end = read_events(tmp_path)[-1]
    assert end["event"] == "run_end" and end["reason"] == "interrupted" and end["steps"] == 5
    assert "SIGTERM" in end["message"]
    assert pair(assert_intact(tmp_path, 5)) in LEGIT_PAIRS
    (tmp_path / "release").unlink()
    assert_resumes_like_the_uninterrupted_run(tmp_path, uninterrupted)


@needs_proc
def test_a_second_sigterm_ends_the_process_at_once(tmp_path, uninterrupted):
    process = blocked(tmp_path, 4, "optimizer")
    try:
        process.send_signal(signal.SIGTERM)
        wait_until(lambda: not catches_sigterm(process.pid), "the first SIGTERM to be handled", process)
        process.send_signal(signal.SIGTERM)  # the default action again: the process ends now
        assert process.wait(timeout=30) == -signal.SIGTERM
    finally:
        process.kill()
    assert pair(assert_intact(tmp_path, 3)) in LEGIT_PAIRS
    assert_resumes_like_the_uninterrupted_run(tmp_path, uninterrupted)


def test_fit_puts_the_sigterm_handler_back_and_runs_outside_the_main_thread(tmp_path):
    before = signal.getsignal(signal.SIGTERM)
    _, trainer = make(tmp_path / "main")
    assert trainer.fit().reason == "done" and signal.getsignal(signal.SIGTERM) is before
    results = []
    _, trainer = make(tmp_path / "thread")
    worker = threading.Thread(target=lambda: results.append(trainer.fit()))
    worker.start()
    worker.join(60)
    assert results and results[0].reason == "done" and results[0].steps == 4
