"""The Trainer runs an agent whose forward is ``async def`` (awaiting async bundles), with every
executor, and its parameters get trained. The LLM is a ScriptedLLM (NOT a model)."""
import asyncio

import pytest

import trace_opt as to
from trace_opt.exec import AsyncExecutor, ThreadExecutor
from trace_opt.llm import ScriptedLLM
from trace_opt.train import Trainer


@to.bundle()
async def reply(prefix, question):
    """The agent's answer: the prefix before the question."""
    await asyncio.sleep(0)
    return f"{prefix} {question}"


class AsyncAgent(to.Module):
    def __init__(self):
        super().__init__()
        self.prefix = to.Parameter("Q:", name="prefix")

    async def forward(self, question):
        first, second = await asyncio.gather(reply(self.prefix, question), reply(self.prefix, question))
        return first


ROWS = [("a", "A: a"), ("b", "A: b")]


def exact(output, target):
    return to.Feedback(text="right" if output == target else f"expected {target!r}", score=float(output == target))


@pytest.mark.parametrize("executor", [ThreadExecutor(2), AsyncExecutor(4)], ids=["threads", "asyncio"])
def test_trainer_trains_an_async_agent(executor):
    agent = AsyncAgent()
    llm = ScriptedLLM([ScriptedLLM.suggestion({"prefix": "A:"})] * 4)
    trainer = Trainer(agent, to.optim.OptoPrime(agent.parameters(), llm=llm), ROWS, ROWS, exact,
                      batch_size=2, epochs=1, executor=executor, progress=False)
    result = trainer.fit()
    assert agent.prefix.data == "A:" and result.best_val_score == 1.0
    assert "expected 'A: a'" in llm.calls[0][-1]["content"]  # the feedback of the awaited rollouts
