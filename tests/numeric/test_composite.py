"""auto() and CompositeOptimizer: a prompt, a tensor, a bounded number and a choice in one loop.

The LLM route is played by FakeOptoPrime (a scripted stand-in, NOT a real model) or by the real
OptoPrime driven by FakeScriptedLLM (queued replies, NOT a recording); tests on recorded model
traffic (cassettes) live with the LLM optimizers.
"""
import copy
import sys
import types

import pytest
import torch

import trace_opt as to
from trace_opt.optim import SPSA, Adam, ChoiceSearch, CompositeOptimizer, Lion, auto
from trace_opt.optim.base import Optimizer


class FakeOptoPrime(Optimizer):
    """Scripted stand-in for the LLM optimizer: rewrites the prompt once it was told to say please."""

    instances = []

    def __init__(self, params, llm=None, **options):
        super().__init__(params, {})
        self.llm, self.options, self.texts = llm, options, []
        FakeOptoPrime.instances.append(self)

    def step(self):
        for param in self.parameters():
            self.texts += [record.feedback.text for record in param.feedback]
            if any("please" in record.feedback.text for record in param.feedback):
                param.data = "Please say hi."


@pytest.fixture
def fake_llm_optimizer(monkeypatch):
    module = types.ModuleType("trace_opt.optim.llm.optoprime")
    module.OptoPrime = FakeOptoPrime
    monkeypatch.setitem(sys.modules, "trace_opt.optim.llm.optoprime", module)
    FakeOptoPrime.instances.clear()
    return FakeOptoPrime


class Mixed(to.Module):
    def __init__(self):
        super().__init__()
        self.prompt = to.Parameter("Say hi.", description="what the assistant is told")
        self.weights = to.Parameter(torch.zeros(3, requires_grad=True), description="a learned scorer")
        self.temperature = to.Parameter(0.2, bounds=(0.0, 1.0))
        self.style = to.Parameter("plain", choices=["plain", "bold", "fancy"])
        self.frozen = to.Parameter("not trained", trainable=False)

    def forward(self, x):
        loss = to.bundle()(lambda w, x: ((x @ w - 1.0) ** 2).mean())(self.weights, x)
        answer = to.bundle()(lambda p, t, s: f"[{s}] {p} (t={t:.2f})")(self.prompt, self.temperature, self.style)
        return loss, answer


def judge(answer: str, temperature: float, style: str) -> to.Feedback:
    score = -(temperature - 0.6) ** 2 + {"plain": 0.0, "bold": 0.2, "fancy": 0.1}[style]
    text = "Good." if "Please" in answer else "Be polite: please start with 'Please'."
    return to.Feedback(text, score=score)


def _train(model, opt, rounds):
    x = torch.tensor([[1.0, 0.0, 2.0], [0.0, 1.0, 1.0]])
    losses = []
    for _ in range(rounds):
        opt.zero_feedback()
        loss, answer = model(x)
        loss.backward()
        answer.backward(judge(answer.data, model.temperature.data, model.style.data))
        opt.step()
        losses.append(loss.data.item())
    return losses


def test_auto_routes_each_kind_and_trains_all_four_in_one_loop(fake_llm_optimizer):
    model = Mixed()
    sentinel_llm = object()
    opt = auto(model.parameters(), llm=sentinel_llm, tensor={"lr": 0.05}, number={"lr": 0.3}, seed=0)
    assert {route: type(o) for route, o in opt.routes.items()} == {
        "tensor": Adam, "number": SPSA, "choice": ChoiceSearch, "text": FakeOptoPrime}
    assert opt.routes["choice"].repeats == 2  # one candidate per SPSA +/- pair
    (fake,) = fake_llm_optimizer.instances
    assert fake.llm is sentinel_llm and fake.parameters() == [model.prompt]

    losses = _train(model, opt, 120)
    assert losses[-1] < losses[0] / 50
    assert model.prompt.data == "Please say hi." and any("please" in t for t in fake.texts)
    assert abs(opt.routes["number"].estimate()[model.temperature] - 0.6) < 0.1
    assert model.style.choices[opt.routes["choice"].incumbent()[0]] == "bold"
    assert model.frozen.data == "not trained"


def test_auto_without_text_parameters_never_imports_the_llm_optimizer(monkeypatch):
    monkeypatch.setitem(sys.modules, "trace_opt.optim.llm.optoprime", None)  # importing it would fail
    w = torch.zeros(2, requires_grad=True)
    opt = auto([w, to.Parameter(True, name="flag")], tensor={"lr": 0.1})
    assert set(opt.routes) == {"tensor", "choice"} and opt.routes["choice"].repeats == 1
    assert repr(opt) == "CompositeOptimizer(tensor=Adam, choice=ChoiceSearch)"


def test_unbounded_numbers_go_to_the_llm_optimizer(fake_llm_optimizer):
    free, bounded = to.Parameter(3.0, name="free"), to.Parameter(3.0, bounds=(0, 5), name="bounded")
    opt = auto([free, bounded])
    assert opt.routes["text"].parameters() == [free] and opt.routes["number"].parameters() == [bounded]
    assert opt.routes["text"].llm is None  # the LLM optimizer picks its default model


def test_auto_and_composite_reject_bad_input():
    with pytest.raises(TypeError, match="a list of parameters"):
        auto(to.Parameter(1.0, bounds=(0, 1)))
    with pytest.raises(ValueError, match="no trainable parameter"):
        auto([to.Parameter("x", trainable=False)])
    with pytest.raises(TypeError, match=r"tensor= takes a dict of options"):
        auto([torch.zeros(1, requires_grad=True)], tensor=0.1)
    with pytest.raises(TypeError, match="routes trace_opt Parameters and torch tensors, got str"):
        auto(["x"])
    w = to.Parameter(torch.zeros(2, requires_grad=True), name="w")
    with pytest.raises(ValueError, match=r"parameter 'w' is updated by both Adam and Lion"):
        CompositeOptimizer([Adam([w]), Lion([w])])
    t = torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match=r"a tensor of shape \[2\] is updated by both"):
        CompositeOptimizer([torch.optim.SGD([t], lr=0.1), Adam([t])])
    with pytest.raises(TypeError, match="wrap it in a list"):
        CompositeOptimizer(Adam([t]))


def test_composite_state_dict_round_trip_continues_identically(fake_llm_optimizer):
    model = Mixed()
    opt = auto(model.parameters(), tensor={"lr": 0.05}, seed=1)
    _train(model, opt, 5)
    values, saved = model.state_dict(), copy.deepcopy(opt.state_dict())
    _train(model, opt, 6)
    expected = model.state_dict()

    again = Mixed()
    again.load_state_dict(values)
    resumed = auto(again.parameters(), tensor={"lr": 0.05}, seed=99)  # the seed is restored from the state
    resumed.load_state_dict(saved)
    _train(again, resumed, 6)
    result = again.state_dict()
    assert torch.equal(result.pop("weights"), expected.pop("weights")) and result == expected
    with pytest.raises(ValueError, match="does not match this CompositeOptimizer"):
        resumed.load_state_dict({"optimizers": [], "types": []})


def test_plain_torch_optimizers_join_through_zero_grad():
    t = torch.tensor([1.0], requires_grad=True)
    x = to.Parameter(0.5, bounds=(0.0, 1.0), name="x")
    opt = CompositeOptimizer([torch.optim.SGD([t], lr=0.5), SPSA([x], seed=0)])
    (t * 2).sum().backward()
    (x + 0).backward(1.0)
    opt.step()
    assert t.item() == 0.0 and x.data != 0.5
    opt.zero_feedback()
    assert t.grad is None and x.feedback == []


class FakeScriptedLLM:
    """Queued replies for the real OptoPrime (NOT a model): the prompt becomes polite."""

    def __init__(self):
        self.calls = 0

    def structured(self, messages, schema, **options):
        self.calls += 1
        return schema.model_validate({"reasoning": "Be polite.", "suggestion": {"prompt": "Please say hi."}})


def test_the_real_llm_optimizer_trains_the_prompt_beside_the_tensor():
    pytest.importorskip("trace_opt.optim.llm.optoprime")
    model = Mixed()
    llm = FakeScriptedLLM()
    opt = auto(model.parameters(), llm=llm, tensor={"lr": 0.05}, seed=0)
    assert type(opt.routes["text"]).__name__ == "OptoPrime"
    losses = _train(model, opt, 3)
    assert llm.calls >= 1 and model.prompt.data == "Please say hi."
    assert losses[-1] < losses[0]
