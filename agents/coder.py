"""CodingAgent: a function trained from its unit-test report.

The function's source is a code Parameter; running the agent runs the tests on the current
version and returns the report, whose failures are the feedback an optimizer rewrites the code
from. ``score`` gives the pass rate. Tests are ``(args, expected)`` pairs of plain data.

The code under test was written by an LLM: the tests run in the sandbox (a fresh, limited
interpreter under the default policy: an infinite loop, an import of os or a 20 GB allocation
is a failed report, not a hung or harmed trainer). ``trusted=True`` runs them in this process.
"""
from __future__ import annotations

import json
from typing import Any, List, Sequence, Tuple

import trace_opt as to
from trace_opt.graph.kinds import parse_function

# Appended to the candidate: runs every test in one sandbox process, the values back as JSON.
_HARNESS = """

def trace_opt_run_tests(tests):
    import json
    results = []
    for args, _ in tests:
        try:
            got = {name}(*args)
        except Exception as exc:
            results.append(["raised", type(exc).__name__ + ": " + str(exc)])
            continue
        try:
            results.append(["returned", repr(got), json.loads(json.dumps(got))])
        except (TypeError, ValueError):
            results.append(["returned", repr(got), None])
    return results
"""


@to.bundle()
def run_tests(source: str, tests: list, trusted: bool = False, timeout: float = 10.0) -> str:
    """Run the function defined by `source` on each test's arguments and report every result."""
    name = parse_function(source).name
    runner = to.sandbox.run_trusted if trusted else to.sandbox.run
    result = runner(source + _HARNESS.format(name=name), "trace_opt_run_tests", args=[_plain(tests)], timeout=timeout)
    if not result.ok:
        return f"FAIL every test: the code was not run: {result.error}"
    lines = []
    for (args, expected), outcome in zip(tests, result.value):
        if outcome[0] == "raised":
            lines.append(f"FAIL {args!r}: raised {outcome[1]}")
            continue
        _, shown, value = outcome
        passed = value == _plain(expected) if value is not None else shown == repr(expected)
        lines.append(f"{'PASS' if passed else 'FAIL'} {args!r}: expected {expected!r}, got {shown}")
    return "\n".join(lines)


def _plain(value: Any) -> Any:
    """The value as JSON gives it back (tuples become lists): how the sandbox's results compare."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        return value


class CodingAgent(to.Module):
    def __init__(self, task: str, signature: str, tests: Sequence[Tuple[Sequence[Any], Any]],
                 initial_body: str = "raise NotImplementedError", *, trusted: bool = False,
                 timeout: float = 10.0) -> None:
        super().__init__()
        if not tests:
            raise ValueError("CodingAgent needs at least one (args, expected) test")
        self.tests: List[Tuple[tuple, Any]] = [(tuple(args), expected) for args, expected in tests]
        self.trusted, self.timeout = trusted, timeout
        source = f"def {signature}:\n    {task!r}\n    {initial_body}\n"
        self.solution = to.Parameter(source, kind="code", description=f"the function to write: {task}")

    def forward(self, _: Any = None) -> to.Node:
        return run_tests(self.solution, self.tests, self.trusted, self.timeout)

    @staticmethod
    def score(report: str) -> float:
        lines = report.splitlines()
        return sum(line.startswith("PASS") for line in lines) / len(lines) if lines else 0.0
