"""The reusable agents: each runs traced, its parameters are found, and an optimizer can train it."""
import trace_opt as to
from agents.coder import CodingAgent
from agents.qa import QAAgent
from agents.react import NO_ANSWER, ReActAgent

from ..optim.scripted_llm import ScriptedLLM


class ScriptedTextLLM:
    """A fake text LLM for unit tests (not a recording): hands out queued replies, keeps the messages."""

    def __init__(self, replies):
        self.replies, self.calls = list(replies), []

    def __call__(self, messages, **options):
        self.calls.append((messages, options))
        return self.replies.pop(0)


def test_qa_agent_traces_prompt_temperature_and_extraction():
    llm = ScriptedTextLLM(["The answer is 12"])
    agent = QAAgent(llm, temperature=0.3)
    out = agent("What is 3 * 4?")
    assert out.data == "The answer is 12" and llm.calls[0][1] == {"temperature": 0.3}
    assert [name for name, _ in agent.named_parameters()] == ["instructions", "temperature", "extract"]
    out.backward("Reply with the number only.")
    assert all(p.feedback for p in agent.parameters())


def test_coding_agent_reports_tests_and_is_trained_from_the_report():
    agent = CodingAgent("Return the sum of a and b.", "add(a, b)", [((1, 2), 3), ((5, 5), 10)])
    report = agent()
    assert agent.score(report.data) == 0.0 and "raised NotImplementedError" in report.data
    fixed = "def add(a, b):\n    return a + b\n"
    opt = to.optim.OptoPrime(agent.parameters(), llm=ScriptedLLM([{"suggestion": {"solution": fixed}}]))
    report.backward(report.data)
    opt.step()
    assert agent.score(agent().data) == 1.0


def test_react_agent_uses_a_tool_then_answers():
    llm = ScriptedTextLLM(["I should compute. Action: calc[6*7]", "Final Answer: 42"])
    agent = ReActAgent({"calc": lambda text: eval(text, {"__builtins__": {}})}, llm,
                       descriptions={"calc": "evaluates arithmetic"})
    out = agent("What is 6 times 7?")
    assert out.data == "42"
    second_turn = llm.calls[1][0][1]["content"]
    assert "Action: calc[6*7]" in second_turn and "Observation: 42" in second_turn
    assert "- calc: evaluates arithmetic" in llm.calls[0][0][0]["content"]
    out.backward("Correct.")
    names = {name for name, p in agent.named_parameters() if p.feedback}
    assert {"instructions", "descriptions.calc", "temperature", "parse"} <= names


def test_react_agent_survives_unknown_tools_and_tool_errors_and_stops_at_the_limit():
    llm = ScriptedTextLLM(["Action: search[x]", "Action: calc[1/0]"])
    agent = ReActAgent({"calc": lambda text: 1 / 0}, llm, max_steps=2)
    out = agent("?")
    assert out.data.endswith(NO_ANSWER)
    assert "unknown tool 'search'" in out.data and "the tool raised ZeroDivisionError" in out.data


def test_coding_agent_runs_tests_in_the_sandbox_so_hostile_code_is_a_failed_report(tmp_path):
    agent = CodingAgent("Return the sum of a and b.", "add(a, b)", [((1, 2), 3)], timeout=1.0)
    marker = tmp_path / "pwned"
    for body, reason in (("while True:\n        pass", "timeout: still running after 1 s, killed"),
                         (f"import os\n    os.system('touch {marker}')", "rejected: imported os, not allowed"),
                         (f"open('{marker}', 'w')", "rejected: opened a file for writing, not allowed")):
        agent.solution.data = f"def add(a, b):\n    {body}\n"
        report = agent().data
        assert report.startswith("FAIL every test: the code was not run:") and reason in report, report
    assert not marker.exists()
    agent.solution.data = "def add(a, b):\n    return (a, b)\n"
    assert agent().data == "FAIL (1, 2): expected 3, got (1, 2)"
