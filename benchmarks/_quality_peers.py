"""The quality benchmark's peers: Stanford DSPy and Microsoft Trace, each run in its own venv.

Standard library only (imported by benchmarks/quality.py under the repo's .venv). The peers are not
dependencies of ours, so each lives in a venv made on first use, with exact pins: DSPy in
benchmarks/.dspy-venv, Trace in benchmarks/.peer-venv (the venv graph_overhead.py makes, plus a
pinned litellm). A run is one subprocess (_quality_peer.py); whatever goes wrong in it comes back
as a result row with "error" set, so the table can show it.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from graph_overhead import PEER_PACKAGE as TRACE_PACKAGE, PEER_VENV as TRACE_VENV

HERE = Path(__file__).resolve().parent
WORKER = HERE / "_quality_peer.py"
# litellm is pinned by hand: 1.82.7, 1.82.8 and 1.107.0 were compromised releases, and an
# unpinned install would take whatever is newest.
LITELLM = "litellm==1.80.17"
VENVS = {
    "dspy": (HERE / ".dspy-venv", ["dspy==3.4.1", "gepa==0.1.4", "optuna==4.5.0", "openai==3.57.0", LITELLM]),
    "trace": (TRACE_VENV, [TRACE_PACKAGE, LITELLM]),
}
PEER_METHODS = {"dspy": ["baseline", "LabeledFewShot", "BootstrapFewShot", "MIPROv2", "GEPA"],
                "trace": ["baseline", "OptoPrime"]}
KEYS = ("lib", "method", "task", "before", "after", "calls", "opt_calls", "tokens", "wall_s", "changed",
        "notes", "error")
MARKER = ".quality-pins"  # in the venv: the pins last installed there, so a changed pin reinstalls


def peer_python(lib: str, create: bool = True) -> Path | None:
    """The peer venv's python, made (or brought to the pins) on first use; None if absent and not created."""
    venv, pins = VENVS[lib]
    python, marker = venv / "bin" / "python", venv / MARKER
    wanted = " ".join(pins)
    if python.exists() and marker.exists() and marker.read_text().strip() == wanted:
        return python
    if not create:
        return python if python.exists() else None
    if not python.exists():
        print(f"creating {venv} with {wanted} (a few minutes, once)...", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    else:  # e.g. graph_overhead.py made .peer-venv with an unpinned litellm
        print(f"installing {wanted} into {venv}...", file=sys.stderr, flush=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *pins], check=True)
    marker.write_text(wanted + "\n")
    return python


def failed(lib: str, method: str, task: str, error: str, wall_s: float | None = None) -> dict:
    row = dict.fromkeys(KEYS)
    row.update(lib=lib, method=method, task=task, wall_s=wall_s, error=error, changed="", notes="")
    return row


def last_line(text: str) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1].strip()[:300] if lines else ""


def run_peer(lib: str, method: str, task: str, api_base: str, model: str = "smollm2", timeout: float = 900,
             before: bool = True, max_tokens: int = 64, log: Path | None = None) -> dict:
    """One peer run's result row. before=False skips re-scoring the unoptimized program (the
    baseline run measures it; at temperature 0 it is the same program); max_tokens caps each
    program reply (the optimizers' own calls have their cap in the worker); log: where stderr goes."""
    started = time.perf_counter()
    try:
        python = peer_python(lib, create=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        return failed(lib, method, task, f"could not make the {lib} venv: {exc}")
    command = [str(python), str(WORKER), "--lib", lib, "--method", method, "--task", task,
               "--api-base", api_base, "--model", model, "--max-tokens", str(max_tokens)]
    command += [] if before else ["--no-before"]
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # litellm must not fetch its price list
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as exc:
        if log is not None:  # what the worker had written so far (bytes here, even with text=True)
            partial = exc.stderr or b""
            log.write_text(partial.decode(errors="replace") if isinstance(partial, bytes) else partial)
        return failed(lib, method, task, f"timed out after {timeout:.0f} s", round(time.perf_counter() - started, 1))
    wall = round(time.perf_counter() - started, 1)
    if log is not None:
        log.write_text(done.stderr)
    try:
        row = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        reason = last_line(done.stderr) or "no output"
        return failed(lib, method, task, f"worker exited {done.returncode} without a result: {reason}", wall)
    return {key: row.get(key) for key in KEYS}
