"""SIGKILL and SIGTERM in the middle of a step: the run is in a process of its own, and the
signal lands while a step is provably in flight (the run waits at a gate and says so in a file).
The last checkpoint stays whole; a killed or terminated run resumes to the same end as one that
was never interrupted; SIGTERM finishes and checkpoints the step in flight, then stops.
"""
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from trace_opt.train import read_events
from trace_opt.train.checkpoint import load_checkpoint

from .checks import assert_intact, make, pair
from .interrupted_run import INITIAL, SCRIPT

ROOT = Path(__file__).resolve().parents[2]
LEGIT_PAIRS = {INITIAL, *SCRIPT}  # every value pair the two-parameter agent of interrupted_run.py legitimately holds

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
