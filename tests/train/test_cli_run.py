"""trace-opt run / resume: a run started by name, continued by its directory alone."""
import json
import subprocess
import sys
from pathlib import Path

from trace_opt.train import read_events

ROOT = Path(__file__).resolve().parents[2]


def cli(*args):
    return subprocess.run([sys.executable, "-m", "trace_opt.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_run_then_resume_by_directory(tmp_path):
    done = cli("run", "tests.train.factory:make_trainer", "--run-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "2 steps, ended: done; best validation score 1.0" in done.stdout and (tmp_path / "report.html").exists()
    assert json.loads((tmp_path / "run.json").read_text()) == {"entry": "tests.train.factory:make_trainer"}
    again = cli("resume", str(tmp_path))
    assert again.returncode == 0, again.stderr
    assert [e["event"] for e in read_events(tmp_path)].count("run_start") == 2


def test_bad_entries_and_directories_are_named(tmp_path):
    missing = cli("run", "no/such/file.py:make", "--run-dir", str(tmp_path))
    assert missing.returncode == 2 and "no/such/file.py does not exist" in missing.stderr
    malformed = cli("run", "nofunction", "--run-dir", str(tmp_path))
    assert malformed.returncode == 2 and "FILE.py:FUNCTION" in malformed.stderr
    never = cli("resume", str(tmp_path / "nothing"))
    assert never.returncode == 2 and "was not started with trace-opt run" in never.stderr
