"""Code optimization from test feedback: a function rewritten until its unit tests pass.

``CodingAgent`` holds the function as a code Parameter; running it runs the tests and returns
the report; the failures go backward as feedback and OptoPrime proposes a new version, which
is kept only when it parses, keeps the signature, runs on the step's inputs and passes more tests.

On the embedded small model proposals rarely parse, so the pass rate usually stays where it
starts; with a hosted model (TRACE_OPT_MODEL) the function is typically fixed in one or two steps.

Run: .venv/bin/python examples/code_from_tests.py [--steps 3]
"""
from __future__ import annotations

import argparse
import sys

import trace_opt as to
from agents.coder import CodingAgent

TESTS = [((3,), "Fizz"), ((5,), "Buzz"), ((15,), "FizzBuzz"), ((7,), "7"), ((9,), "Fizz")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    agent = CodingAgent("Return 'Fizz' for multiples of 3, 'Buzz' for multiples of 5, 'FizzBuzz' for both, "
                        "else the number as text.", "fizzbuzz(n)", TESTS, initial_body="return str(n)")
    opt = to.optim.OptoPrime(agent.parameters(), num_candidates=3)
    report = agent()
    print(f"start: pass rate {agent.score(report.data):.2f}")
    for step in range(1, args.steps + 1):
        opt.zero_feedback()
        report.backward(to.Feedback(text="Unit test report:\n" + report.data, score=agent.score(report.data)))
        result = opt.step(evaluate=lambda: agent.score(agent().data))
        report = agent()
        kept = "a new version kept" if result.updated else "no candidate passed more tests"
        print(f"step {step}: pass rate {agent.score(report.data):.2f} ({kept})")
        for proposal in result.proposals:
            print(f"  {proposal.name}: {'valid' if proposal.accepted else proposal.reason}")
    print("\nfinal code:\n" + agent.solution.data)
    return 0


if __name__ == "__main__":
    sys.exit(to.llm.run_main(main))  # a model that never answered: exit 1 with the cause
