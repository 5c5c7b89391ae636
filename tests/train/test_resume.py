"""A run killed with SIGKILL mid-training and resumed ends like an uninterrupted one."""
import subprocess
import sys

import pytest
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


CASSETTE = ROOT / "cassettes" / "test_resume" / "killed_and_resumed.yaml"


def run_recorded(run_dir, *args):
    return subprocess.run([sys.executable, "-m", "tests.train.run_recorded", str(run_dir), str(CASSETTE), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.mark.vcr  # so `make record` re-records it (its subprocesses use CASSETTE, not pytest-recording's)
def test_sigkill_then_resume_on_real_model_traffic_gives_the_same_result(tmp_path, request):
    record = ["--record"] if request.config.getoption("record_mode", "none") not in ("none", None) else []
    whole = run_recorded(tmp_path / "whole", *record)
    assert whole.returncode == 0, whole.stderr[-2000:]
    killed = run_recorded(tmp_path / "killed", "--kill-at", "2")
    assert killed.returncode == -9, killed.stderr[-2000:]
    resumed = run_recorded(tmp_path / "killed", "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert resumed.stdout == whole.stdout
    expected, got = load_checkpoint(tmp_path / "whole"), load_checkpoint(tmp_path / "killed")
    assert got["agent"] == expected["agent"] and got["history"] == expected["history"]
    assert got["optimizer"]["memory"] == expected["optimizer"]["memory"]
