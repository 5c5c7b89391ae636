"""The flagship example: train a small agent's prompt, code and temperature from feedback.

The agent answers arithmetic questions (examples/data/arithmetic.jsonl) with an LLM call
whose system prompt and temperature are parameters, then a trainable code step turns the
reply into the final answer. Each step: the agent runs on a minibatch, every wrong answer
becomes feedback that flows back over the trace, OptoPrime proposes several candidate
updates, each is checked (kinds, bounds, code that parses, keeps its signature and runs on
the step's inputs) and scored on the training set (each change of a multi-change candidate
also alone), and only a candidate that beats the current score is kept. The validation score is printed before and after.

On the embedded default model (SmolLM2-135M, no key needed) the suggestions are mostly
poor; the gains come from that machinery. Set TRACE_OPT_MODEL (e.g. openai/gpt-4o-mini,
with OPENAI_API_KEY) to run the same script with a hosted model that makes real edits.

Run: make demo   (or: .venv/bin/python examples/optimize_prompt_and_code.py --steps 3)
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import trace_opt as to
from shared import read_jsonl, show  # noqa: E402 - a sibling module of the examples
from agents.qa import QAAgent  # system prompt, bounded temperature, trainable extract code

DATA = Path(__file__).resolve().parent / "data" / "arithmetic.jsonl"


def is_correct(answer: str, expected: str) -> bool:
    """Right when the last number in the answer is the expected one."""
    numbers = re.findall(r"-?\d+(?:\.\d+)?", str(answer))
    return bool(numbers) and float(numbers[-1]) == float(expected)


def accuracy(agent: QAAgent, rows: list) -> float:
    """Share of rows answered correctly, untraced (evaluation builds no graph)."""
    correct = 0
    with to.no_trace():
        for row in rows:
            try:
                correct += is_correct(agent(to.node(row["question"])).data, row["answer"])
            except to.TraceExecutionError:
                pass
    return correct / len(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--candidates", type=int, default=3)
    args = parser.parse_args()

    rows = read_jsonl(DATA)
    train, val = rows[:8], rows[8:]
    # One line switches model: TRACE_OPT_MODEL=openai/gpt-4o-mini (and its key); unset = embedded SmolLM2.
    agent_llm = to.LLM(seed=0, max_tokens=48, cache=True)   # seeded, so a repeated evaluation is a cache hit
    optimizer_llm = to.LLM()
    agent = QAAgent(agent_llm, temperature=1.2)
    opt = to.optim.OptoPrime(agent.parameters(), llm=optimizer_llm, num_candidates=args.candidates)
    print(f"model: {agent_llm.model} ({'embedded local server' if agent_llm.local else agent_llm.api_base or 'hosted'})")

    started = time.time()
    before = accuracy(agent, val)
    print(f"validation accuracy before training: {before:.2f}\n")
    for step in range(args.steps):
        batch = [train[(step * args.batch_size + i) % len(train)] for i in range(args.batch_size)]
        opt.zero_feedback()
        for row in batch:
            try:
                out = agent(to.node(row["question"], name="question"))
            except to.TraceExecutionError as err:
                err.node.backward(f"The code raised an error: {err}")
                continue
            if is_correct(out.data, row["answer"]):
                out.backward(to.Feedback(text="Correct.", score=1.0))
            else:
                out.backward(to.Feedback(text=f"Wrong: expected {row['answer']}, got {show(out.data, 60)}. "
                                              "The answer must be the number only.", score=0.0))
        report = opt.step(evaluate=lambda: accuracy(agent, train))
        print(f"step {step + 1}: train accuracy {report.baseline_score if report.baseline_score is not None else '-'}"
              f"{' (skipped: ' + report.skipped + ')' if report.skipped else ''}")
        for index, candidate in enumerate(report.candidates):
            mark = "kept" if index == report.chosen else "not kept"
            score = "-" if candidate.score is None else f"{candidate.score:.2f}"
            source = f", one change of candidate {candidate.origin + 1}" if candidate.origin is not None else ""
            print(f"  candidate {index + 1}: score {score} ({mark}{source})")
            for proposal in candidate.proposals:
                verdict = "valid" if proposal.accepted else proposal.reason
                print(f"    {proposal.name} = {show(proposal.value, 60)}: {verdict}")
    after = accuracy(agent, val)
    print(f"\nvalidation accuracy: {before:.2f} -> {after:.2f}")
    print("final parameters:")
    for name, param in agent.named_parameters():
        print(f"  {name} = {show(param.data, 90)}")
    usage = agent_llm.usage + optimizer_llm.usage
    print(f"LLM calls: {usage.calls} ({usage.cache_hits} cache hits), tokens: {usage.total_tokens}, "
          f"cost: ${usage.cost_usd:.4f}, time: {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(to.llm.run_main(main))  # a model that never answered: exit 1 with the cause
