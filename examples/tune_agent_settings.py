"""Hyper-parameter tuning of an agent: LLM-warm-started search vs Optuna (TPE) vs random.

The QA agent's settings — its instruction style (a choice of three) and its sampling
temperature (bounded) — are tuned for accuracy on the arithmetic questions. Each search gets
the same number of evaluations; each evaluation runs the agent on the training questions and
sends the accuracy back as the score. Printed: every search's best setting and its
validation accuracy.

Run: .venv/bin/python examples/tune_agent_settings.py [--trials 6]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import trace_opt as to
from agents.qa import QAAgent

DATA = Path(__file__).resolve().parent / "data" / "arithmetic.jsonl"
STYLES = ["You are a helpful assistant.", "Reply with the number only.", "Think step by step, then give the number."]


def accuracy(agent: QAAgent, rows: list) -> float:
    with to.no_trace():
        right = 0
        for row in rows:
            numbers = [w.strip(".,") for w in str(agent(row["question"]).data).split()]
            right += row["answer"] in numbers[-3:]
    return right / len(rows)


def tune(search_class, trials: int, train: list, llm: to.LLM, **options) -> tuple:
    agent = QAAgent(llm)
    agent.instructions = to.Parameter(STYLES[0], choices=STYLES, description="the instruction style")
    search = search_class([agent.instructions, agent.temperature], seed=0, **options)
    for _ in range(trials):
        search.zero_feedback()
        probe = agent(train[0]["question"])  # a traced run links the settings to the score
        probe.backward(to.Feedback(text="accuracy on the training questions", score=accuracy(agent, train)))
        search.step()
    search.apply_best()
    return agent, {p.name: p.data for p in (agent.instructions, agent.temperature)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=6)
    args = parser.parse_args()
    rows = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    train, val = rows[:8], rows[8:]
    llm = to.LLM(seed=0, max_tokens=48, cache=True)
    searches = [("LLM warm start", to.optim.LLMWarmStartSearch, {"n_initial": 3, "task": "answer arithmetic questions"}),
                ("Optuna (TPE)", to.optim.OptunaSearch, {}), ("random", to.optim.RandomSearch, {})]
    for name, search_class, options in searches:
        agent, best = tune(search_class, args.trials, train, llm, **options)
        print(f"{name:>15}: validation accuracy {accuracy(agent, val):.2f} with {best}")
    return 0


if __name__ == "__main__":
    sys.exit(to.llm.run_main(main))  # a model that never answered: exit 1 with the cause
