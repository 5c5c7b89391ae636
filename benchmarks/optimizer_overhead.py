"""Optimizer overhead: OptoPrime.step() of trace_opt side by side with Microsoft Trace's
(PyPI trace-opt) in one run, with a fake LLM, so that only the optimizer's own work is timed.

Why: Trace's OptoPrime renders the whole subgraph into its prompt, every value whole and with
no truncation, and its step() is cubic in fan-out (it merges one copy of the subgraph per
child of a parameter, with list membership tests). Ours keeps the prompt within
``max_prompt_tokens`` and builds it in time linear in the subgraph.

For chains and fan-outs of N = 10^2, 10^3, 3x10^3 and 10^4 traced ops it prints, for both
libraries, the time of one step() (backward excluded; best of up to three steps on freshly
built graphs), the prompt size in tokens (trace_opt's estimate, tokens.estimate_tokens,
applied to both prompts alike), and whether ours is within ``max_prompt_tokens``. The LLM is
_optimizer_workload.FakeLLM: it answers at once with a fixed valid suggestion, no network.
Each measurement runs in a fresh process (_optimizer_workload.py); Trace runs in its own venv
(benchmarks/.peer-venv, created on first use, see graph_overhead.py). A Trace step is
interrupted after the time cap (60 s by default), and larger N of that shape are skipped.

    .venv/bin/python benchmarks/optimizer_overhead.py [--quick] [--no-peer] [--peer-timeout 60]

Targets (issue 3): our prompt <= max_prompt_tokens at every N; our step time grows at most
linearly with N (time per op flat or falling); >= 100x faster than Trace at 3,000 fan-out ops.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

from graph_overhead import PEER_PACKAGE, peer_python, print_table

HERE = Path(__file__).resolve().parent
WORKER = HERE / "_optimizer_workload.py"
TARGET_N, TARGET_RATIO = 3_000, 100


def run_worker(python: Path, lib: str, shape: str, n: int, cap: float, budget: int) -> dict:
    """One fresh process; Trace's litellm is kept off the network (it fetches a price list on import)."""
    env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True")
    try:
        done = subprocess.run([str(python), str(WORKER), lib, shape, str(n), str(cap), str(budget)],
                              capture_output=True, text=True, timeout=4 * cap + 300, env=env)
    except subprocess.TimeoutExpired:  # graph building or backward alone passed the cap many times over
        return {"lib": lib, "shape": shape, "n": n, "capped": True, "step_s": None}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"{lib} {shape} N={n} failed:\n{done.stderr[-2000:]}")
    return json.loads(lines[-1])


def fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}" if value < 1 else f"{value:.2f}"


def ratio(peer: dict | None, mine: dict, cap: float) -> tuple[str, float | None, bool]:
    """(text, value, is_lower_bound): Trace time / ours; a lower bound when Trace hit the cap."""
    if peer is None:
        return "—", None, False
    value = (cap if peer["capped"] else peer["step_s"]) / mine["step_s"]
    text = f"{value:,.1f}×" if value < 10 else f"{value:,.0f}×"
    return ("> " + text if peer["capped"] else text), value, peer["capped"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="N = 10^2 and 10^3 only (a smoke run)")
    parser.add_argument("--no-peer", action="store_true", help="measure trace_opt only")
    parser.add_argument("--peer-timeout", type=float, default=60.0, help="seconds before a Trace step is abandoned")
    parser.add_argument("--max-prompt-tokens", type=int, default=4000, help="our OptoPrime's prompt budget")
    args = parser.parse_args()

    ours = Path(sys.executable)
    theirs = None if args.no_peer else peer_python(create=True)
    sizes = [100, 1_000] if args.quick else [100, 1_000, 3_000, 10_000]
    budget, cap = args.max_prompt_tokens, args.peer_timeout

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; Trace = PyPI {PEER_PACKAGE}; "
          f"fake LLM (fixed reply, no network); our max_prompt_tokens = {budget}\n")
    header = ("shape", "N", "step s", "Trace s", "ratio", "µs/op", "tokens", f"≤ {budget}", "Trace tokens",
              "backward s", "Trace bwd s")
    rows = [header]
    results: dict[tuple[str, int], tuple[dict, dict | None]] = {}
    for shape in ("chain", "fanout"):
        capped = False
        for n in sizes:
            mine = run_worker(ours, "trace_opt", shape, n, 600, budget)
            if mine["capped"] or not mine["updated"]:
                raise SystemExit(f"trace_opt {shape} N={n}: the step did not complete: {mine}")
            peer = None
            if theirs is not None and not capped:
                peer = run_worker(theirs, "opto", shape, n, cap, budget)
                capped = peer["capped"]
            results[shape, n] = mine, peer
            text, _, _ = ratio(peer, mine, cap)
            if peer is None:
                peer_step = "skipped" if theirs is not None else "—"
            else:
                peer_step = f"> {cap:.0f} s" if peer["capped"] else seconds(peer["step_s"])
            rows.append((shape, f"{n:,}", seconds(mine["step_s"]), peer_step, text,
                         fmt(mine["step_s"] / n * 1e6, ".1f"), f"{mine['prompt_tokens']:,}",
                         "yes" if mine["prompt_tokens"] <= budget else "NO",
                         f"{peer['prompt_tokens']:,}" if peer and "prompt_tokens" in peer else "—",
                         seconds(mine["backward_s"]), seconds(peer.get("backward_s")) if peer else "—"))
            print(f"  measured {shape} N={n:,}", file=sys.stderr, flush=True)

    print_table(rows)

    mine_all = [mine for mine, _ in results.values()]
    largest = max(m["prompt_tokens"] for m in mine_all)
    print(f"\nour prompt ≤ max_prompt_tokens ({budget}) at every N: "
          f"{'yes' if largest <= budget else 'NO'} (largest {largest:,} tokens)")
    first = [m["steps_s"][0] - m["step_s"] for m in mine_all]
    print(f"(our first step in a process also imports trace_opt.llm lazily: +{min(first) * 1e3:.0f} to "
          f"{max(first) * 1e3:.0f} ms once, not in the table; both sides report their best step)")

    lo, hi = sizes[1] if len(sizes) > 2 else sizes[0], sizes[-1]
    print(f"\ngrowth of our step time from N = {lo:,} to {hi:,} (exponent k in time ~ N^k; "
          "at most linear: k ≤ 1.2, time per op flat or falling):")
    for shape in ("chain", "fanout"):
        per_op = [results[shape, n][0]["step_s"] / n * 1e6 for n in sizes if n >= lo]
        k = math.log(results[shape, hi][0]["step_s"] / results[shape, lo][0]["step_s"]) / math.log(hi / lo)
        trend = " → ".join(f"{v:.1f}" for v in per_op)
        print(f"  {shape:<7} µs/op {trend}; k = {k:.2f}: {'at most linear' if k <= 1.2 else 'MORE THAN LINEAR'}")

    if theirs is not None and ("fanout", TARGET_N) in results:
        mine, peer = results["fanout", TARGET_N]
        text, value, bound = ratio(peer, mine, cap)
        if value is None:
            verdict = "not measured (Trace capped at a smaller N)"
        else:
            verdict = "met" if value >= TARGET_RATIO else ("undecided: raise --peer-timeout" if bound else "NOT met")
        note = f" (Trace stopped at the {cap:.0f} s cap, so the ratio is a lower bound)" if bound else ""
        print(f"\ntarget at {TARGET_N:,} fan-out ops, ≥ {TARGET_RATIO}× faster than Trace: {text}{note}: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
