"""Code an optimizer accepted runs in isolated workers: what it sees of the host, and that a
saved module keeps it isolated after load()."""
import os

import pytest

import trace_opt as to
from trace_opt.graph.isolated import IsolatedCode
from trace_opt.sandbox import DEFAULT_POLICY

LIMIT = 3


@to.bundle()
def shout(text):
    """A traced helper the isolated code may call back."""
    return text.upper()


class Agent(to.Module):
    def __init__(self):
        super().__init__()
        self.suffix = to.Parameter("!")
        self.api_key = "sk-never-crosses-0123456789"
        self._private = "hidden"

    @to.bundle()
    def decorate(self, text):
        """A traced method the isolated code may call back."""
        return text + self.suffix.data

    @to.bundle(trainable=True)
    def answer(self, question):
        """Answer."""
        return question


def isolate(param):
    param.code_runner = IsolatedCode(DEFAULT_POLICY)


def test_self_is_a_snapshot_with_traced_methods_called_back():
    agent = Agent()
    param = agent.answer.parameter
    isolate(param)
    param.data = "def answer(self, question):\n    return self.decorate(shout(question)) + str(LIMIT) + self.suffix\n"
    assert agent.answer("hi").data == "HI!3!"
    param.data = "def answer(self, question):\n    return self.api_key\n"
    with pytest.raises(to.TraceExecutionError, match="looks like a credential"):
        agent.answer("hi")
    param.data = "def answer(self, question):\n    return self._private\n"
    with pytest.raises(to.TraceExecutionError, match="no attribute '_private'"):
        agent.answer("hi")
    param.data = "def answer(self, question):\n    return os.getpid()\n"
    with pytest.raises(to.TraceExecutionError, match="module os, not allowed by the code policy"):
        agent.answer("hi")


def test_writes_to_self_stay_in_the_worker():
    agent = Agent()
    isolate(agent.answer.parameter)
    agent.answer.parameter.data = "def answer(self, question):\n    self.suffix = '?'\n    return question\n"
    assert agent.answer("q").data == "q" and agent.suffix.data == "!"


def test_a_saved_module_keeps_accepted_code_isolated(tmp_path):
    agent = Agent()
    param = agent.answer.parameter
    isolate(param)
    param.data = "def answer(self, question):\n    import os\n    return os.getpid()\n"
    agent.save(tmp_path / "agent.json")
    loaded = Agent()
    loaded.load(tmp_path / "agent.json")
    assert loaded.answer.parameter.code_runner == param.code_runner
    with pytest.raises(to.TraceExecutionError, match="imported os, not allowed"):
        loaded.answer("q")
    assert os.getpid()  # this process is untouched


@to.bundle(trainable=True)
async def polish(text):
    """Polish the text."""
    return text


def test_new_versions_of_an_async_bundle_run_isolated_and_are_awaited():
    import asyncio

    param = polish.parameter
    isolate(param)
    param.data = ("async def polish(text):\n    async def inner():\n        return text.strip() + '.'\n"
                  "    return await inner()\n")
    try:
        out = asyncio.run(polish(to.node("  hi ")))
        assert out.data == "hi." and param in out.parents
        param.data = "async def polish(text):\n    import asyncio\n    await asyncio.sleep(1)\n    return text\n"
        with pytest.raises(to.TraceExecutionError, match="imported asyncio, not allowed"):
            asyncio.run(polish(to.node("x")))  # no event loop in the worker, and no asyncio for its code
    finally:
        param.data, param.code_runner = polish.source, None
