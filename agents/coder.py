"""CodingAgent: a function trained from its unit-test report.

The function's source is a code Parameter; running the agent runs the tests on the current
version and returns the report, whose failures are the feedback an optimizer rewrites the code
from. ``score`` gives the pass rate. Tests are ``(args, expected)`` pairs.

The tests run the code in this process; the sandbox layer (isolated processes with time and
memory limits) is where untrusted code belongs, and it will take this place when it lands.
"""
from __future__ import annotations

from typing import Any, List, Sequence, Tuple

import trace_opt as to
from trace_opt.graph.kinds import parse_function


@to.bundle()
def run_tests(source: str, tests: list) -> str:
    """Run the function defined by `source` on each test's arguments and report every result."""
    namespace: dict = {}
    exec(compile(source, "<candidate>", "exec"), namespace)  # noqa: S102 - see the module docstring
    function = namespace[parse_function(source).name]
    lines = []
    for args, expected in tests:
        try:
            got = function(*args)
        except Exception as exc:  # a failing candidate is a test result, not an error of the agent
            lines.append(f"FAIL {args!r}: raised {type(exc).__name__}: {exc}")
            continue
        lines.append(f"{'PASS' if got == expected else 'FAIL'} {args!r}: expected {expected!r}, got {got!r}")
    return "\n".join(lines)


class CodingAgent(to.Module):
    def __init__(self, task: str, signature: str, tests: Sequence[Tuple[Sequence[Any], Any]],
                 initial_body: str = "raise NotImplementedError") -> None:
        super().__init__()
        if not tests:
            raise ValueError("CodingAgent needs at least one (args, expected) test")
        self.tests: List[Tuple[tuple, Any]] = [(tuple(args), expected) for args, expected in tests]
        source = f"def {signature}:\n    {task!r}\n    {initial_body}\n"
        self.solution = to.Parameter(source, kind="code", description=f"the function to write: {task}")

    def forward(self, _: Any = None) -> to.Node:
        return run_tests(self.solution, self.tests)

    @staticmethod
    def score(report: str) -> float:
        lines = report.splitlines()
        return sum(line.startswith("PASS") for line in lines) / len(lines) if lines else 0.0
