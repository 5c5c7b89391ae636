"""Make a small model measurably better: demonstrations chosen by the metric, and a prompt.

The agent (agents.few_shot.FewShotAgent) names the city a sentence mentions with one LLM call:
a system prompt, up to four demonstrations shown as earlier turns of the chat, and a trainable
code step that cleans the reply. Rows come from examples/data/cities.jsonl: 12 to train on, 12
to validate with, 24 held out. Each step runs a minibatch, sends every answer's score backward,
then BootstrapFewShot proposes demonstration sets (labelled training rows at the start, then the
calls of rollouts that scored well, read from their traces) and OptoPrime proposes prompt and
code changes; a proposal is kept only when it beats the current validation score. The held-out
accuracy is printed before and after, on rows no step ever saw, and what changed.

Run: make demo   (or: .venv/bin/python examples/few_shot_cities.py --steps 2)
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import trace_opt as to
from shared import read_jsonl, show  # noqa: E402 - a sibling module of the examples
from agents.few_shot import FewShotAgent

DATA = Path(__file__).resolve().parent / "data" / "cities.jsonl"
INSTRUCTIONS = "Name the city the sentence mentions. Reply with the city name only."


def correct(answer: str, city: str) -> bool:
    return str(answer).strip().strip(".").strip() == city


def accuracy(agent: FewShotAgent, rows: list) -> float:
    """Share of rows answered right, untraced (evaluation builds no graph)."""
    with to.no_trace():
        return sum(correct(agent(to.node(row["sentence"])).data, row["city"]) for row in rows) / len(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=4)
    args = parser.parse_args()

    rows = read_jsonl(DATA)
    train, val, test = rows[:12], rows[12:24], rows[24:]
    # One line switches model: TRACE_OPT_MODEL=openai/gpt-4o-mini (and its key); unset = embedded SmolLM2.
    agent_llm = to.LLM(max_tokens=12, cache=True)
    agent = FewShotAgent(agent_llm, INSTRUCTIONS, k=4)
    demos = to.optim.BootstrapFewShot([agent.shots], trainset=[(r["sentence"], r["city"]) for r in train], seed=0)
    # One re-ask, one candidate a step: on the 135M model a reply that breaks the JSON rarely mends.
    prompt_and_code = to.optim.OptoPrime([agent.instructions, agent.extract.parameter], llm=to.LLM(max_reasks=1))
    print(f"model: {agent_llm.model} ({'embedded local server' if agent_llm.local else agent_llm.api_base or 'hosted'})")
    started = time.time()
    before = agent.state_dict()
    held_out_before = accuracy(agent, test)
    print(f"held-out accuracy before training: {held_out_before:.2f} ({len(test)} rows never trained on)\n")
    validate = lambda: accuracy(agent, val)  # noqa: E731
    for step in range(args.steps):
        batch = [train[(step * args.batch_size + i) % len(train)] for i in range(args.batch_size)]
        demos.zero_feedback()
        prompt_and_code.zero_feedback()
        for row in batch:
            out = agent(to.node(row["sentence"], name="sentence"))
            right = correct(out.data, row["city"])
            out.backward(to.Feedback(text="Correct." if right else f"Wrong: expected {row['city']!r}, got "
                                     f"{show(out.data, 40)}. Reply with the city name only.", score=float(right)))
        for optimizer in (demos, prompt_and_code):
            report = optimizer.step(evaluate=validate)
            kept = f"kept candidate {report.chosen + 1}" if report.chosen is not None else "kept the current values"
            scores = ", ".join("-" if c.score is None else f"{c.score:.2f}" for c in report.candidates)
            print(f"step {step + 1} {type(optimizer).__name__}: validation {report.baseline_score if report.baseline_score is not None else '-'}"
                  f" -> candidates [{scores}]: {report.skipped or kept}")
    held_out_after = accuracy(agent, test)
    print(f"\nheld-out accuracy: {held_out_before:.2f} -> {held_out_after:.2f}")
    print("what changed:")
    for name in agent.changed_since(before) or ["(nothing)"]:
        value = dict(agent.named_parameters())[name].data if name != "(nothing)" else ""
        print(f"  {name} = {show(value, 90)}")
    usage = agent_llm.usage + prompt_and_code.llm.usage
    print(f"LLM calls: {usage.calls} ({usage.cache_hits} cache hits), tokens: {usage.total_tokens}, "
          f"time: {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(to.llm.run_main(main))  # a model that never answered: exit 1 with the cause
