"""A run killed with SIGKILL mid-training and resumed ends like an uninterrupted one."""
import subprocess
import sys
from pathlib import Path

from trace_opt.train import read_events
from trace_opt.train.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[2]


def run(run_dir, *args):
    return subprocess.run([sys.executable, "-m", "tests.train.run_script", str(run_dir), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_sigkill_then_resume_gives_the_same_parameters_and_scores(tmp_path):
    whole = run(tmp_path / "whole")
    assert whole.returncode == 0, whole.stderr
    killed = run(tmp_path / "killed", "--kill-at", "3")
    assert killed.returncode == -9  # SIGKILL
    assert load_checkpoint(tmp_path / "killed")["step"] == 3  # the last checkpoint is intact and loadable
    resumed = run(tmp_path / "killed", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout == whole.stdout
    expected, got = load_checkpoint(tmp_path / "whole"), load_checkpoint(tmp_path / "killed")
    assert got["agent"] == expected["agent"] and got["history"] == expected["history"]
    assert got["optimizer"] == expected["optimizer"] and got["step"] == 8
    events = read_events(tmp_path / "killed")
    assert [e["event"] for e in events].count("run_start") == 2 and events[-1]["reason"] == "done"
