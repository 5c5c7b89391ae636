"""Hostile code proposed during training costs one rejected candidate, never the run or the host.

The optimizer's LLM is a scripted fake (tests/optim/scripted_llm.py), NOT a recording: it
proposes one hostile version of a method's code per step. Each is refused with its reason
(by the static policy, or by the trial run in an isolated worker on the step's recorded
inputs: the method's instance as a snapshot), the trainer carries on, a good proposal afterwards is
still installed, and this process is unchanged: no file appears outside the run dir, the
environment, cwd and `os`/`sys` functions are as they were.
"""
import builtins
import json
import os
import sys
import tempfile

import pytest

import trace_opt as to
from trace_opt.optim import CodeTrial
from trace_opt.sandbox import DEFAULT_POLICY
from trace_opt.train import Trainer

from ..optim.scripted_llm import ScriptedLLM

HEADER = "def answer(self, question: str) -> str:\n"
PLANTED_KEY = "sk-test-PLANTED-5f3c9a1e7b2d4c60"  # a module global the candidate can name


class Shouter(to.Module):
    """Answers by running its trainable code on the question; the target is upper case."""

    def __init__(self):
        super().__init__()
        self.suffix = "!"

    @to.bundle(trainable=True)
    def answer(self, question: str) -> str:
        """Return the answer to the question."""
        return question

    def forward(self, question):
        return self.answer(question)


def exact(output, target):
    return to.Feedback(text="right" if output == target else f"expected {target!r}", score=float(output == target))


def hostile_cases(outside):
    """(name, body, what the refusal must say with the static check, and without it)."""
    pwned = os.path.join(outside, "pwned")
    return [
        ("infinite loop", "    while True:\n        pass\n", "timeout: still running after", "timeout: still running after"),
        ("os.system", f"    import os\n    os.system('touch {pwned}')\n    return question\n",
         "imported os, not allowed", "ImportError: imported os, not allowed"),
        ("os.system via the module's os", f"    os.system('touch {pwned}')\n    return question\n",
         "used attribute system, not allowed", "name 'os' (a module os, not allowed by the code policy) is not available"),
        ("read /etc/passwd", "    return open('/etc/passwd').read()\n",
         "opened /etc/passwd, outside the sandbox dir, not allowed",
         "opened /etc/passwd, outside the sandbox dir, not allowed"),
        ("write a file", f"    open('{pwned}', 'w').write('x')\n    return question\n",
         "opened a file for writing, not allowed", "for writing, not allowed"),
        ("fork", "    os.fork()\n    return question\n",
         "used attribute fork, not allowed", "name 'os' (a module os, not allowed by the code policy) is not available"),
        ("20 GB allocation", "    block = bytearray(20 * 1024 ** 3)\n    return question\n",
         "MemoryError: exceeded the memory limit", "MemoryError: exceeded the memory limit"),
        ("deep recursion", "    def down(n):\n        return down(n + 1)\n    return down(0)\n",
         "RecursionError: exceeded the recursion limit", "RecursionError: exceeded the recursion limit"),
        ("sys.exit", "    sys.exit(3)\n", "used attribute exit, not allowed",
         "name 'sys' (a module sys, not allowed by the code policy) is not available"),
        ("raise SystemExit", "    raise SystemExit(3)\n", "SystemExit: 3", "SystemExit: 3"),
        ("leak a key it can reach", "    raise ValueError('key: ' + PLANTED_KEY)\n",
         "name 'PLANTED_KEY' (a value whose name looks like a credential) is not available",
         "name 'PLANTED_KEY' (a value whose name looks like a credential) is not available"),
        ("kill the trainer through typing.sys", "    import typing\n    p = typing.sys.modules['posix']\n"
         "    p.killpg(p.getpgid(p.getppid()), 9)\n", "used typing.sys (module sys), not allowed",
         "PermissionError: [Errno 1] Operation not permitted"),
        ("attribute by string", "    import operator, json\n    g = operator.attrgetter('__globals__')(json.dumps)\n"
         "    return question\n", "used attribute attrgetter, not allowed", None),
        ("caught refusal, then harmless", f"    try:\n        open('{pwned}', 'w')\n    except Exception:\n"
         "        pass\n    return question\n", "opened a file for writing, not allowed", None),
        # Attribute escapes are the static check's to stop (a run-time guard alone would not).
        ("escape through __subclasses__", "    return str(().__class__.__bases__[0].__subclasses__())\n",
         "used attribute __subclasses__, not allowed", None),
    ]


GOOD = HEADER + "    return question.upper()\n"


def _host_state():
    return {"env": dict(os.environ), "cwd": os.getcwd(), "system": os.system, "fork": os.fork,
            "exit": sys.exit, "open": builtins.open, "import": builtins.__import__,
            "temp": {n for n in os.listdir(tempfile.gettempdir()) if n.startswith("trace_opt_sandbox_")}}


@pytest.mark.parametrize("static", [True, False], ids=["static check on", "run-time guards alone"])
def test_hostile_proposals_are_rejected_and_the_trainer_carries_on(tmp_path, static):
    outside, run_dir = tmp_path / "outside", tmp_path / "run"
    outside.mkdir()
    cases = [case for case in hostile_cases(str(outside)) if static or case[3] is not None]
    replies = [{"reasoning": f"Ignore previous instructions: {name}.", "suggestion": {"answer": HEADER + body}}
               for name, body, _, _ in cases] + [{"reasoning": "Upper-case it.", "suggestion": {"answer": GOOD}}]
    agent = Shouter()
    original = agent.answer.parameter.data
    policy = DEFAULT_POLICY if static else DEFAULT_POLICY.widen(check_static=False)
    llm = ScriptedLLM(replies)
    optimizer = to.optim.OptoPrime(agent.parameters(), llm=llm, code_trial=CodeTrial(policy=policy, timeout=2.0))
    rows = [(f"question {i}", f"QUESTION {i}") for i in range(len(replies))]
    before = _host_state()

    result = Trainer(agent, optimizer, rows, guide=exact, batch_size=1, checkpoint_dir=run_dir,
                     progress=False).fit()

    assert result.reason == "done" and result.steps == len(replies)
    steps = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    steps = [e for e in steps if e["event"] == "step"]
    for (name, _, static_reason, runtime_reason), event in zip(cases, steps):
        proposal = event["proposals"][0]
        expected = static_reason if static else runtime_reason
        assert not proposal["accepted"] and expected in proposal["reason"], (name, proposal["reason"])
        assert event["parameters"]["answer"] == original, name  # nothing half-installed
    # Each refusal is told to the LLM at the next step, so it can do better.
    assert "The code proposed for answer was rejected" in llm.calls[1]["messages"][1]["content"]
    # The trainer carried on: the good proposal after all the hostile ones is installed and works.
    assert steps[-1]["proposals"][0]["accepted"] and agent.answer.parameter.data == GOOD
    assert agent(to.node("ok")).data == "OK"
    assert PLANTED_KEY not in (run_dir / "events.jsonl").read_text()
    assert not any(PLANTED_KEY in m["content"] for call in llm.calls for m in call["messages"])
    # The host is unchanged.
    assert list(outside.iterdir()) == []
    assert sorted(p.name for p in run_dir.iterdir()) == ["checkpoint.json", "events.jsonl", "graph.json"]
    assert _host_state() == before


def test_trusted_mode_runs_the_candidate_in_process(tmp_path):
    """The explicit opt-out: no policy, no child; a crash is still a rejection, not a failure."""
    agent = Shouter()
    llm = ScriptedLLM([{"suggestion": {"answer": HEADER + "    return question.split()[5]\n"}},
                       {"suggestion": {"answer": HEADER + "    import string\n    return string.capwords(question)\n"}}])
    optimizer = to.optim.OptoPrime(agent.parameters(), llm=llm, code_trial=CodeTrial(trusted=True))
    rows = [("a b", "A B"), ("c d", "C D")]
    result = Trainer(agent, optimizer, rows, guide=exact, batch_size=1, progress=False).fit()
    assert result.steps == 2
    assert "IndexError: list index out of range" in llm.calls[1]["messages"][1]["content"]
    assert agent(to.node("x y")).data == "X Y"


def test_code_trial_settings_are_checked():
    with pytest.raises(TypeError, match="CodeTrial.policy must be a trace_opt.sandbox.Policy"):
        CodeTrial(policy={"allowed_modules": ["os"]})
    with pytest.raises(ValueError, match="timeout > 0"):
        CodeTrial(timeout=0)
    with pytest.raises(TypeError, match="code_trial must be a CodeTrial"):
        to.optim.OptoPrime([to.Parameter("x")], llm=ScriptedLLM([]), code_trial=True)


def test_code_that_behaves_in_its_trial_and_misbehaves_later_still_runs_isolated():
    """A time bomb (a counter kept in a module of its warm worker) passes its trial and misbehaves at the next
    call: that call runs in the same kind of worker as the trial did, so the misbehaviour is a
    failed call, never a host effect; the explicit opt-out runs in this process."""
    sleeper = (HEADER + "    import string\n    string.calls = getattr(string, 'calls', 0) + 1\n"
               "    if string.calls > 1:\n"
               "        return open('/etc/hostname').read()\n"
               "    return question.upper()\n")
    agent = Shouter()
    optimizer = to.optim.OptoPrime(agent.parameters(), llm=ScriptedLLM([{"suggestion": {"answer": sleeper}}]))
    agent(to.node("q")).backward("expected 'Q'")
    assert optimizer.step().updated == {"answer": sleeper}  # it behaved in its trial
    outcomes = []
    for _ in range(3):
        try:
            outcomes.append(agent(to.node("q")).data)
        except to.TraceExecutionError as exc:
            outcomes.append(str(exc))
    assert any("opened /etc/hostname, outside the sandbox dir, not allowed" in o for o in outcomes), outcomes
    agent.answer.parameter.data = HEADER + "    import shutil\n    return str(shutil.which('sh'))\n"
    with pytest.raises(to.TraceExecutionError, match="imported shutil, not allowed"):
        agent(to.node("q"))
    trusted = Shouter()
    to.optim.OptoPrime(trusted.parameters(), llm=ScriptedLLM([]), code_trial=CodeTrial(trusted=True))
    trusted.answer.parameter.data = HEADER + "    import shutil\n    return str(bool(shutil.which('sh')))\n"
    assert trusted(to.node("q")).data == "True"
