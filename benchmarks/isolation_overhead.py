"""Isolation overhead: what running LLM-written code in a bubblewrap worker costs, side by side
with running it in this process (Trace's way: `exec` in the trainer; ours under trusted=True).

Prints (1) a worker's cold start, (2) the round trip of a small function on a warm worker
(median and p99 over --calls), with the same call in-process, and (3) the wall time of a
Trainer run over an agent whose method is a code parameter accepted from a proposal (the LLM
is a scripted fake: this measures our overhead, not a model), isolated vs in-process.

    .venv/bin/python benchmarks/isolation_overhead.py [--calls 2000] [--rows 200]

Target (issue 14): <= 2 ms round trip on a warm worker on this machine.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import trace_opt as to  # noqa: E402
from tests.optim.scripted_llm import ScriptedLLM  # noqa: E402 - a scripted fake LLM, named as such
from tests.reliability.test_hostile_code import Shouter, exact  # noqa: E402 - the agent of the hostile-code suite
from trace_opt.optim import CodeTrial  # noqa: E402
from trace_opt.sandbox import IsolatedFunction, run_trusted  # noqa: E402
from trace_opt.sandbox.function import POOL  # noqa: E402
from trace_opt.train import Trainer  # noqa: E402

SMALL = "def f(x, y):\n    return {'sum': x + y, 'items': [x, y]}\n"
PROPOSAL = "def answer(self, question: str) -> str:\n    return question.upper() + self.suffix\n"


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def round_trips(calls: int):
    POOL.close_all()
    function = IsolatedFunction(SMALL, "f")
    start = time.perf_counter()
    function(1, 2)
    cold = time.perf_counter() - start
    isolated = []
    for i in range(calls):
        start = time.perf_counter()
        function(i, 2)
        isolated.append(time.perf_counter() - start)
    namespace: dict = {}
    exec(compile(SMALL, "<small>", "exec"), namespace)  # noqa: S102 - the in-process baseline (our own code)
    local = []
    for i in range(calls):
        start = time.perf_counter()
        namespace["f"](i, 2)
        local.append(time.perf_counter() - start)
    assert run_trusted(SMALL, "f", (1, 2)).ok
    return cold, isolated, local


def trainer_wall_time(rows: int, trusted: bool) -> float:
    agent = Shouter()
    llm = ScriptedLLM([{"suggestion": {"answer": PROPOSAL}}] * (rows + 1))
    optimizer = to.optim.OptoPrime(agent.parameters(), llm=llm, code_trial=CodeTrial(trusted=trusted))
    data = [(f"question {i}", f"QUESTION {i}!") for i in range(rows)]

    start = time.perf_counter()
    Trainer(agent, optimizer, data, guide=exact, batch_size=4, progress=False).fit()
    wall = time.perf_counter() - start
    assert agent(to.node("x")).data == "X!"
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=200)
    args = parser.parse_args()
    cold, isolated, local = round_trips(args.calls)
    ms = 1000.0
    print(f"{'measure':<46}{'isolated worker':>18}{'in-process':>14}")
    print(f"{'cold start + first call (ms)':<46}{cold * ms:>18.1f}{'-':>14}")
    print(f"{'round trip, small function, median (ms)':<46}{statistics.median(isolated) * ms:>18.3f}"
          f"{statistics.median(local) * ms:>14.4f}")
    print(f"{'round trip, small function, p99 (ms)':<46}{percentile(isolated, 0.99) * ms:>18.3f}"
          f"{percentile(local, 0.99) * ms:>14.4f}")
    isolated_wall = trainer_wall_time(args.rows, trusted=False)
    local_wall = trainer_wall_time(args.rows, trusted=True)
    print(f"{f'Trainer.fit, {args.rows} rows, code parameter (s)':<46}{isolated_wall:>18.2f}{local_wall:>14.2f}")
    verdict = "meets" if statistics.median(isolated) * ms <= 2.0 else "MISSES"
    print(f"\nwarm round trip {verdict} the 2 ms target; DSPy's Deno+Pyodide interpreter was not measured here "
          "(deno is not installed on this machine).")


if __name__ == "__main__":
    main()
