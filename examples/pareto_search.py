"""A Pareto search over the whole agent (GEPA's way), with cost beside accuracy.

The agent (agents.few_shot.FewShotAgent) names the city a sentence mentions: a system prompt, up
to four demonstrations and a code step that cleans the reply. ParetoSearch keeps every candidate
it validates, scored on each validation row; a parent is drawn from those that are best on some
row, run on a minibatch of training rows, and its traces and feedback drive the mutation operator
(BootstrapFewShot proposes demonstrations, OptoPrime rewrites the prompt and the code, in turn). A child
must beat its parent on that minibatch before it is validated; two lineages that changed
different parameters are merged. The search stops at --rollouts agent runs; each candidate is
charged the tokens and seconds of its rollouts, so the end shows the front of accuracy against
cost, the cheapest candidate within 0.05 of the best, and the lineage. Held-out rows (never
seen by the search) score the agent before and after; `trace-opt report RUN_DIR` draws the run.

Run: .venv/bin/python examples/pareto_search.py [--rollouts 60] [--run-dir runs/pareto]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import trace_opt as to
from shared import read_jsonl, show  # noqa: E402 - a sibling module of the examples
from agents.few_shot import FewShotAgent
from trace_opt.train import ParetoSearch

DATA = Path(__file__).resolve().parent / "data" / "cities.jsonl"
INSTRUCTIONS = "Name the city the sentence mentions. Reply with the city name only."


def correct(answer: str, city: str) -> bool:
    return str(answer).strip().strip(".").strip() == city


def guide(answer: str, city: str) -> to.Feedback:
    right = correct(answer, city)
    return to.Feedback(text="Correct." if right else f"Wrong: expected {city!r}, got {show(answer, 40)}. "
                       "Reply with the city name only.", score=float(right))


def accuracy(agent: FewShotAgent, rows: list) -> float:
    with to.no_trace():
        return sum(correct(agent(to.node(text)).data, city) for text, city in rows) / len(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rollouts", type=int, default=60, help="agent runs the search may make")
    parser.add_argument("--run-dir", type=Path, default=Path("runs") / "pareto_search")
    args = parser.parse_args()

    rows = [(r["sentence"], r["city"]) for r in read_jsonl(DATA)]
    train, val, test = rows[:12], rows[12:24], rows[24:]
    agent_llm = to.LLM(max_tokens=12, cache=True)  # unset TRACE_OPT_MODEL = the embedded SmolLM2
    agent = FewShotAgent(agent_llm, INSTRUCTIONS, k=4)
    # The parts take turns, one a mutation: demonstrations first (what a small model learns most from).
    mutation = to.optim.CompositeOptimizer([
        to.optim.BootstrapFewShot([agent.shots], trainset=train, seed=0),
        to.optim.OptoPrime([agent.instructions, agent.extract.parameter], llm=to.LLM(max_reasks=1))])
    print(f"model: {agent_llm.model} ({'embedded local server' if agent_llm.local else agent_llm.api_base or 'hosted'})")
    started = time.time()
    before = accuracy(agent, test)
    print(f"held-out accuracy before: {before:.2f} ({len(test)} rows the search never sees)")
    search = ParetoSearch(agent, mutation, train, val, guide, minibatch_size=3, max_rollouts=args.rollouts,
                          checkpoint_dir=args.run_dir, seed=0, progress=False)
    result = search.fit()
    after = accuracy(agent, test)
    print(f"\nsearch ended ({result.reason}): {result.iterations} iterations, {result.rollouts} rollouts, "
          f"{len(result.pool)} candidates")
    print("lineage (candidate: origin, parents, validation, tokens per rollout):")
    for c in result.pool:
        print(f"  #{c.id}: {c.origin:8} from {c.parents or '-'}  val {c.score:.2f}  {c.tokens:.0f} tokens")
    print("front (accuracy vs cost): " + ", ".join(f"#{c.id} {c.score:.2f} @ {c.tokens:.0f} tokens"
                                                    for c in result.front()))
    cheap = result.cheapest_within(0.05)
    print(f"best: #{result.best.id} (val {result.best.score:.2f}); cheapest within 0.05: #{cheap.id} "
          f"({cheap.tokens:.0f} tokens per rollout)")
    print(f"\nheld-out accuracy: {before:.2f} -> {after:.2f}")
    for name, value in result.best.values.items():
        print(f"  {name} = {show(value, 90)}")
    usage = search.account.usage
    print(f"the search's LLM calls: {usage.calls} ({usage.cache_hits} cache hits), tokens: {usage.total_tokens}, "
          f"time: {time.time() - started:.0f} s; report: trace-opt report {args.run_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(to.llm.run_main(main))  # a model that never answered: exit 1 with the cause
