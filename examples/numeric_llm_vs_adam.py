"""Numeric optimization two ways, as in the Trace paper: an LLM reading feedback vs Adam.

The task: find x (between -10 and 10) that minimizes f(x) = (x - 3.7)^2 + 1. The LLM optimizer
(OptoPrime) sees the traced computation and words like "f(x) = 9.3, lower is better: x is too
small"; Adam sees the gradient of the same function on a tensor. Both run 8 steps from x = -6.

On the embedded small model the LLM's guesses are close to random picks on the bounds' grid
(kept only when the evaluation improves); a hosted model (TRACE_OPT_MODEL) reasons its way in.

Run: .venv/bin/python examples/numeric_llm_vs_adam.py [--steps 8]
"""
from __future__ import annotations

import argparse
import sys

import torch

import trace_opt as to

TARGET = 3.7


@to.bundle()
def objective(x):
    """f(x) = (x - 3.7)^2 + 1: lower is better."""
    return (x - TARGET) ** 2 + 1


def llm_run(steps: int) -> list:
    x = to.Parameter(-6.0, bounds=(-10.0, 10.0), name="x", description="the input of f")
    opt = to.optim.OptoPrime([x], num_candidates=2)
    trajectory = [x.data]
    for _ in range(steps):
        opt.zero_feedback()
        value = objective(x)
        hint = "too small" if x.data < TARGET else "too large"
        value.backward(to.Feedback(text=f"f(x) = {value.data:.3f}; lower is better (x is {hint}).", score=-value.data))
        opt.step(evaluate=lambda: -float(objective(x).data))
        trajectory.append(x.data)
    return trajectory


def adam_run(steps: int) -> list:
    x = to.Parameter(torch.tensor(-6.0, requires_grad=True), name="x")
    opt = to.optim.Adam([x], lr=1.0)
    trajectory = [x.data.item()]
    for _ in range(steps):
        opt.zero_feedback()
        objective(x).backward()  # a scalar tensor output: torch autograd fills x.grad
        opt.step()
        trajectory.append(x.data.item())
    return trajectory


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    args = parser.parse_args()
    adam, llm = adam_run(args.steps), llm_run(args.steps)
    print(f"{'step':>4}  {'Adam x':>8}  {'f':>8}  {'LLM x':>8}  {'f':>8}")
    for step, (a, b) in enumerate(zip(adam, llm)):
        print(f"{step:>4}  {a:8.3f}  {(a - TARGET) ** 2 + 1:8.3f}  {b:8.3f}  {(b - TARGET) ** 2 + 1:8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(to.llm.run_main(main))  # a model that never answered: exit 1 with the cause
