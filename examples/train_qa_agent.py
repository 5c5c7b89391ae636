"""Prompt optimization with the Trainer: a QA agent on a small BigBench-Hard-style task.

The task (examples/data/date_understanding.jsonl, shipped) asks the weekday of a date given
relative to another, multiple choice, as in BBH's date understanding. The Trainer runs
minibatches, turns each answer into feedback with a guide, lets OptoPrime update the system
prompt and the answer-extraction code, validates after every step (rolling back a step that
lowers the validation score), writes a checkpoint and an event log every step, and the run
ends with an HTML report: runs/qa/report.html (open it in a browser).

Kill it at any point and run it again with --resume: it continues from the last checkpoint.

Run: .venv/bin/python examples/train_qa_agent.py [--epochs 1] [--resume]
 or: trace-opt run examples/train_qa_agent.py:make_trainer --run-dir runs/qa2; trace-opt resume runs/qa2
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

import trace_opt as to
from agents.qa import QAAgent
from trace_opt.report import write_report
from trace_opt.train import Trainer

DATA = Path(__file__).resolve().parent / "data" / "date_understanding.jsonl"
RUN_DIR = Path("runs") / "qa"


def guide(output: str, target: str) -> to.Feedback:
    """Right when the first option letter the answer names, e.g. '(B)', is the right one."""
    named = re.search(r"\(?\b([A-D])\b\)?", str(output))
    if named and named.group(1) == target.strip("()"):
        return to.Feedback(text="Correct.", score=1.0)
    return to.Feedback(text=f"Wrong: the answer is {target}. Reply with the option letter only.", score=0.0)


def make_trainer(run_dir: Path, epochs: int = 1, executor: object = None) -> Trainer:
    """The run, built from scratch (``trace-opt run examples/train_qa_agent.py:make_trainer``)."""
    rows = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    train = [(r["question"], r["answer"]) for r in rows[:6]]
    val = [(r["question"], r["answer"]) for r in rows[6:]]
    agent = QAAgent(to.LLM(max_tokens=32), instructions="Answer the question.")
    opt = to.optim.OptoPrime(agent.parameters(), num_candidates=2)
    return Trainer(agent, opt, train, val, guide, batch_size=3, epochs=epochs, checkpoint_dir=run_dir,
                   executor=executor)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    if not args.resume and RUN_DIR.exists():
        shutil.rmtree(RUN_DIR)
    trainer = make_trainer(RUN_DIR, args.epochs)
    result = trainer.resume() if args.resume else trainer.fit()
    print(f"{result.steps} steps, ended: {result.reason}; best validation score {result.best_val_score}")
    for name, param in trainer.agent.named_parameters():
        print(f"  {name} = {str(param.data)[:100]!r}")
    print(f"report: {write_report(RUN_DIR)}")
    return 0


if __name__ == "__main__":
    sys.exit(to.llm.run_main(main))  # a model that never answered: exit 1 with the cause
