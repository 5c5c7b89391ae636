"""Trace a small workflow, send feedback backward, see what reached each parameter.

No LLM is needed: the workflow formats a prompt, calls a trainable parsing step and
scales a number. Feedback on the outputs (words and scores) flows back over the traced
graph; a failing run becomes feedback too. The graph is written to out/trace.svg.

Run: make demo   (or: .venv/bin/python examples/trace_and_feedback.py)
"""
from __future__ import annotations

import sys
from pathlib import Path

import trace_opt as to


@to.bundle()
def money(amount: float) -> str:
    """Format an amount of money with two decimals."""
    return f"{amount:.2f}"


class PriceQuoter(to.Module):
    """Quotes a price from a catalogue line such as 'apple: 3 units at 0.5'."""

    def __init__(self) -> None:
        super().__init__()
        self.template = to.Parameter("Quote for {item}:", description="how the quote starts")
        self.margin = to.Parameter(1.1, bounds=(1.0, 2.0), description="price multiplier")

    @to.bundle(trainable=True)
    def parse(self, line: str) -> float:
        """Read the total cost (units x unit price) from a catalogue line."""
        name, rest = line.split(":")
        units, price = rest.split(" units at ")
        return int(units) * float(price)

    def forward(self, line: to.Node) -> to.Node:
        cost = self.parse(line)
        price = cost * self.margin
        header = self.template.format(item=line.split(":")[0])
        return header + " " + money(price)


def main() -> int:
    quoter = PriceQuoter()
    data = [("apple: 3 units at 0.5", 1.65), ("pear: 2 units at 1.25", 2.75), ("plum: three units at 2", None)]
    outputs = []
    for line, expected in data:
        try:
            out = quoter(to.node(line, name="line"))
        except to.TraceExecutionError as err:  # the crash is feedback for the code parameter
            print(f"✗ {line!r}: {err.node.data}")
            err.node.backward(f"The parser crashed: {err}. Accept numbers written as words.")
            continue
        quoted = float(out.data.rsplit(" ", 1)[1])
        verdict = "correct" if abs(quoted - expected) < 1e-9 else f"wrong, expected {expected}"
        print(f"✓ {line!r} -> {out.data!r} ({verdict})")
        out.backward(to.Feedback(text=f"The quote is {verdict}.", score=float(verdict == 'correct')))
        outputs.append(out)

    print("\nWhat reached each parameter:")
    for name, param in quoter.named_parameters():
        print(f"  {name} ({param.kind}): {len(param.feedback)} feedback record(s)")
        for record in param.feedback:
            path = " -> ".join(n.name for n in record.subgraph())
            print(f"    - {str(record.feedback)[:90]!r}\n      via {path}")

    target = Path("out") / "trace.svg"
    try:
        to.graph.render(outputs[0], target)
        print(f"\nGraph of the first quote: {target} ({len(to.graph.to_networkx(outputs[0]))} nodes)")
    except RuntimeError as err:
        print(f"\nGraph not rendered: {err}")
    return 0


if __name__ == "__main__":
    sys.exit(to.llm.run_main(main))  # a model that never answered: exit 1 with the cause
