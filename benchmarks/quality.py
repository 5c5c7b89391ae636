"""Held-out quality: trace_opt's optimizers side by side with DSPy's and Trace's, one table.

Three small tasks shipped in the repo (benchmarks/_quality_tasks.py: name the city a sentence
mentions, a review's sentiment, a headline's topic; 12 train / 12 validation / 24 held-out
rows each), one model server for everyone: the embedded SmolLM2-135M (or TRACE_OPT_MODEL with
TRACE_OPT_API_BASE for any OpenAI-compatible server). trace_opt's methods run here
(_quality_ours.py); the peers run in their own venvs, made on first use (_quality_peers.py):
DSPy (LabeledFewShot, BootstrapFewShot, MIPROv2 light, GEPA) and Trace's OptoPrime. A peer that
fails on this model is recorded with its cause: that is a result.

Each row: held-out accuracy before -> after, every LLM call and token of the run (the held-out
evaluation before and after included), wall time, what changed. Judged per task (issue 12):
trace_opt's best reaches at least the best peer's accuracy with no more calls than that peer.

    .venv/bin/python benchmarks/quality.py [--tasks cities,sentiment,topic] [--methods ...]
        [--no-peers] [--peer-timeout 900] [--save benchmarks/results/quality.txt]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from _quality_tasks import TASKS  # noqa: E402
from graph_overhead import print_table  # noqa: E402


def server_address() -> tuple:
    """(api_base, model alias) every library talks to: the embedded server, started here, or the
    configured OpenAI-compatible one."""
    import trace_opt as to
    from trace_opt.llm import local

    llm = to.LLM()
    if llm.local:
        return local.ensure_server(), local.alias()
    if not llm.api_base:
        raise SystemExit("the peers need an OpenAI-compatible server: set TRACE_OPT_API_BASE too")
    return llm.api_base, llm.model.split("/", 1)[-1]


def verdict(rows: list, task: str) -> str:
    """Whether trace_opt's best row beats the best peer's on accuracy at no more calls."""
    done = [r for r in rows if r["task"] == task and r.get("after") is not None and r["method"] != "baseline"]
    ours = [r for r in done if r["lib"] == "trace_opt"]
    peers = [r for r in done if r["lib"] != "trace_opt"]
    base = next((r["after"] for r in rows if r["task"] == task and r["lib"] == "trace_opt"
                 and r["method"] == "baseline"), None)
    if not ours:
        return f"{task}: no trace_opt result"
    best = max(ours, key=lambda r: (r["after"], -r["calls"]))
    line = f"{task}: trace_opt best {best['method']} {best['after']:.2f} in {best['calls']} calls"
    if base is not None:
        line += f" ({best['after'] - base:+.2f} over the baseline {base:.2f})"
    if not peers:
        return line + "; no peer result"
    peer = max(peers, key=lambda r: (r["after"], -r["calls"]))
    cheap = [r for r in ours if r["after"] >= peer["after"] and r["calls"] <= peer["calls"]]
    met = f"met by {min(cheap, key=lambda r: r['calls'])['method']}" if cheap else "NOT met"
    return (line + f"; best peer {peer['lib']} {peer['method']} {peer['after']:.2f} in {peer['calls']} calls"
            f" -> >= its accuracy at <= its calls: {met}")


def search_verdict(rows: list, task: str) -> str:
    """Issue 13's judgement: ParetoSearch against DSPy GEPA (at the same rollout budget) and
    against the single-line Trainer driving the same mutation operator."""
    def find(lib: str, method: str):
        return next((r for r in reversed(rows) if r["task"] == task and r["lib"] == lib and r["method"] == method), None)

    ours, gepa, line = find("trace_opt", "ParetoSearch"), find("dspy", "GEPA"), find("trace_opt", "Trainer:OptoPrime+Demos")
    if ours is None or ours.get("after") is None:
        return f"{task}: no ParetoSearch result"
    parts = [f"{task}: ParetoSearch {ours['after']:.2f}"]
    if gepa is None:
        parts.append("no DSPy GEPA row")
    elif gepa.get("after") is None:
        parts.append(f"DSPy GEPA failed ({gepa.get('error')})")
    else:
        parts.append(f"DSPy GEPA {gepa['after']:.2f} -> {'>=' if ours['after'] >= gepa['after'] else 'BELOW'} it")
    if line is not None and line.get("after") is not None:
        parts.append(f"Trainer with the same operator {line['after']:.2f} -> "
                     f"{'>=' if ours['after'] >= line['after'] else 'BELOW'} it")
    return "; ".join(parts)


def fmt(row: dict) -> tuple:
    before = "—" if row.get("before") is None else f"{row['before']:.2f}"
    after = "—" if row.get("after") is None else f"{row['after']:.2f}"
    what = row.get("error") and f"FAILED: {row['error']}" or row.get("changed") or ""
    if row.get("notes"):
        what += f" [{row['notes']}]"
    return (row["task"], row["lib"], row["method"], f"{before} -> {after}", row.get("calls", "—"),
            row.get("tokens", "—"), row.get("wall_s", "—"), what[:150])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--methods", default=None, help="trace_opt methods (default: all; none: only the baseline)")
    parser.add_argument("--peer-methods", default=None, help="e.g. dspy:LabeledFewShot,trace:OptoPrime")
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--peer-timeout", type=float, default=900.0)
    parser.add_argument("--save", type=Path, default=None, help="also write the table here")
    parser.add_argument("--jsonl", type=Path, default=HERE / "results" / "quality.jsonl",
                        help="every row as JSON (appended as it comes)")
    parser.add_argument("--table-only", action="store_true",
                        help="run nothing: the table of the newest row per task, library and method in --jsonl")
    args = parser.parse_args()
    if args.table_only:
        newest = {}
        for line in args.jsonl.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            newest[(row["task"], row["lib"], row["method"])] = row
        rows = [r for t in args.tasks.split(",") for k, r in newest.items() if k[0] == t]
        report(rows, [TASKS[t] for t in args.tasks.split(",")], "newest rows of " + os.path.relpath(args.jsonl, HERE.parent) + " (one per task, library, method)", None, args.save)
        return 0

    import trace_opt as to
    import _quality_ours as ours

    tasks = [TASKS[name] for name in args.tasks.split(",")]
    if args.methods == "none":  # the peers only (and the baseline every row is read against)
        methods = []
    else:
        methods = args.methods.split(",") if args.methods else [m for m in ours.METHODS if m != "baseline"]
    peers: list = []
    if args.peer_methods or not args.no_peers:
        from _quality_peers import PEER_METHODS, run_peer  # the peers' venvs, made on first use

        peers = [tuple(item.split(":", 1)) for item in args.peer_methods.split(",")] if args.peer_methods \
            else [(lib, m) for lib, ms in PEER_METHODS.items() for m in ms]
    api_base, model = server_address()
    started = time.time()
    header = f"model {model} at {api_base}; {os.cpu_count()} cores; python {sys.version.split()[0]}"
    print(header, flush=True)
    rows = []

    def keep(row: dict) -> None:
        rows.append(row)
        print(json.dumps(row), flush=True)
        args.jsonl.parent.mkdir(parents=True, exist_ok=True)
        with open(args.jsonl, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({**row, "at": time.strftime("%Y-%m-%d %H:%M:%S")}) + "\n")

    for task in tasks:
        base = ours.baseline(task)
        keep(base)
        for method in methods:
            keep(ours.run(task, method, base))
        for lib, method in peers:
            keep(run_peer(lib, method, task.name, api_base, model=model, timeout=args.peer_timeout))
    report(rows, tasks, header, time.time() - started, args.save)
    return 0


def report(rows: list, tasks: list, header: str, wall: float | None, save: Path | None) -> None:
    """Print the table and the per-task verdicts (and write them to ``save``)."""
    table = [("task", "library", "method", "held-out", "calls", "tokens", "wall s", "what changed")]
    table += [fmt(r) for r in rows]
    lines = [header, ""]
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        print_table(table)
    lines += buffer.getvalue().splitlines() + [""] + [verdict(rows, t.name) for t in tasks]
    if any(r["method"] == "ParetoSearch" for r in rows):
        lines += [""] + [search_verdict(rows, t.name) for t in tasks]
    if wall is not None:
        lines.append(f"\ntotal wall time {wall:.0f} s")
    text = "\n".join(lines)
    print("\n" + text)
    if save:
        save.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    from trace_opt.llm import run_main

    sys.exit(run_main(main))  # a model that never answered: exit 1 with the cause, never a table
