"""A search killed with SIGKILL mid-run and resumed reaches the same pool as one left alone."""
import json
import subprocess
import sys
from pathlib import Path

from trace_opt.train import read_events
from trace_opt.train.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[2]


def run(run_dir, *args):
    return subprocess.run([sys.executable, "-m", "tests.train.run_pareto_script", str(run_dir), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_sigkill_then_resume_reaches_the_same_pool(tmp_path):
    whole = run(tmp_path / "whole")
    assert whole.returncode == 0, whole.stderr
    expected = json.loads(whole.stdout)
    assert len(expected["pool"]) >= 3 and expected["iterations"] == 8  # the search did go somewhere
    killed = run(tmp_path / "killed", "--kill-at", "4")
    assert killed.returncode == -9  # SIGKILL
    assert load_checkpoint(tmp_path / "killed")["iteration"] == 4
    resumed = run(tmp_path / "killed", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout) == expected
    events = read_events(tmp_path / "killed")
    assert [e["event"] for e in events].count("run_start") == 2 and events[-1]["reason"] == "done"
    kept = load_checkpoint(tmp_path / "whole")
    assert load_checkpoint(tmp_path / "killed")["optimizer"] == kept["optimizer"]
