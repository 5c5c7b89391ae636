"""The pieces the optimizer contract rests on: value equality owned by the kind, Module
changes seen through it, and proposed code that brings its policy only when it is installed."""
import builtins
import math

import pytest

import trace_opt as to
from trace_opt.graph.kinds import Spec
from trace_opt.optim import OptoPrime
from trace_opt.graph.isolated import IsolatedCode
from trace_opt.sandbox import DEFAULT_POLICY

from .scripted_llm import ScriptedLLM


def test_same_value_is_decided_by_the_kind():
    text = Spec.infer("a", None, None, None)
    assert text.same("a", "a") and not text.same("a", "b")
    number = Spec.infer(1.0, None, None, None)
    assert number.same(math.nan, math.nan) and not number.same(1, 1.0) and not number.same(1, True)
    torch = pytest.importorskip("torch")
    tensor = Spec.infer(torch.zeros(3), None, None, None)
    assert tensor.same(torch.tensor([1.0, math.nan, 3.0]), torch.tensor([1.0, math.nan, 3.0]))
    assert not tensor.same(torch.zeros(3), torch.tensor([0.0, 0.0, 1e-9]))
    assert not tensor.same(torch.zeros(3), torch.zeros(3, dtype=torch.float64))
    assert not tensor.same(torch.zeros(3), [0.0, 0.0, 0.0])


def test_a_module_says_which_parameters_changed_since_a_snapshot():
    torch = pytest.importorskip("torch")

    class Agent(to.Module):
        def __init__(self):
            super().__init__()
            self.prompt = to.Parameter("Answer.")
            self.weights = to.Parameter(torch.zeros(3, requires_grad=True))

    agent = Agent()
    snapshot = agent.state_dict()
    assert agent.changed_since(snapshot) == []
    with torch.no_grad():
        agent.weights.data.add_(1.0)
    assert agent.changed_since(snapshot) == ["weights"]
    agent.prompt.data = "Answer briefly."
    assert agent.changed_since(snapshot) == ["prompt", "weights"]


class Doubler(to.Module):
    @to.bundle(trainable=True)
    def double(self, x):
        """Double x."""
        return x * 2

    def forward(self, x):
        return self.double(x)


GOOD = "def double(self, x):\n    return x + x\n"


def test_building_an_optimizer_leaves_code_alone_and_installing_brings_the_policy():
    agent = Doubler()
    (param,) = agent.parameters()
    OptoPrime(agent.parameters(), llm=ScriptedLLM([]))
    trusted = OptoPrime(agent.parameters(), llm=ScriptedLLM([{"suggestion": {"double": GOOD}}]),
                        code_trial=to.optim.CodeTrial(trusted=True))
    assert param.code_runner is None                         # two optimizers built: nothing changed
    guarded = OptoPrime(agent.parameters(), llm=ScriptedLLM([{"suggestion": {"double": GOOD}}]))
    agent(to.node(3)).backward("wrong")
    assert guarded.step().updated == {"double": GOOD}
    assert param.code_runner == IsolatedCode(DEFAULT_POLICY)  # accepted code runs isolated, under the policy
    assert agent(to.node(3)).data == 6                       # ... in a worker, not here
    assert trusted.parameters() == [param]                   # the trusted one did not overwrite it
    restored = OptoPrime(agent.parameters(), llm=ScriptedLLM([]))
    param.code_runner = None
    restored.load_state_dict(guarded.state_dict())           # a resumed run: its code stays isolated
    assert param.code_runner == IsolatedCode(DEFAULT_POLICY)


def test_a_bug_in_propose_is_raised_not_logged_as_no_proposal():
    class Broken(OptoPrime):
        def propose(self, params, count, notes):
            raise ValueError("a bug")

    prompt = to.Parameter("x")
    optimizer = Broken([prompt], llm=ScriptedLLM([]))
    (prompt + "!").backward("wrong")
    with pytest.raises(ValueError, match="a bug"):
        optimizer.step()


def test_a_prompt_that_cannot_fit_is_a_skip_with_its_reason():
    prompt = to.Parameter("x")
    llm = ScriptedLLM([])
    optimizer = OptoPrime([prompt], llm=llm, max_prompt_tokens=200)
    (prompt + "!").backward("wrong: " + "far too long feedback " * 200)
    report = optimizer.step()
    assert report.skipped.startswith("no usable proposal: PromptTooLarge") and llm.calls == []
