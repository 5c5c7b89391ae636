"""The Trainer trains every kind of parameter through the one optimizer contract: a tensor with
Adam, a tensor beside a prompt, and auto() over prompt + tensor + bounded float + choice, with
every child's proposals and skip reasons in events.jsonl and the report.

The LLM route is the real OptoPrime driven by ScriptedFakeLLM (queued replies, NOT a model and
NOT a recording)."""
import pytest

torch = pytest.importorskip("torch")

import trace_opt as to  # noqa: E402
from trace_opt.llm import ReplyError  # noqa: E402
from trace_opt.report import write_report  # noqa: E402
from trace_opt.train import Trainer, read_events  # noqa: E402

X = torch.tensor([[1.0, 0.0, 2.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
ROWS = [(i, None) for i in range(6)]


class ScriptedFakeLLM:
    """A fake LLM for OptoPrime (NOT a model): suggests a polite prompt; its second reply is unusable."""

    def __init__(self):
        self.calls = 0

    def structured(self, messages, schema, **options):
        self.calls += 1
        if self.calls == 2:
            raise ReplyError("scripted-fake", "not JSON", "{{", 4)
        return schema.model_validate({"reasoning": "Be polite.", "suggestion": {"prompt": "Please say hi."}})


@to.bundle()
def loss_of(weights, prompt, temperature, style, row):
    """The agent's loss: a regression on the weights, plus penalties the other parameters can remove."""
    fit = ((X @ weights - 1.0) ** 2).mean()
    polite = 0.0 if prompt.startswith("Please") else 1.0
    return fit + polite + (temperature - 0.6) ** 2 + {"plain": 0.2, "bold": 0.0, "fancy": 0.1}[style]


class Mixed(to.Module):
    def __init__(self, prompt=True, temperature=True, style=True):
        super().__init__()
        self.weights = to.Parameter(torch.zeros(3, requires_grad=True), description="a learned scorer")
        self.prompt = to.Parameter("Say hi.", description="what the assistant is told", trainable=prompt)
        self.temperature = to.Parameter(0.2, bounds=(0.0, 1.0), trainable=temperature)
        self.style = to.Parameter("plain", choices=["plain", "bold", "fancy"], trainable=style)

    def forward(self, row):
        return loss_of(self.weights, self.prompt, self.temperature, self.style, row)


def guide(loss, _target):
    value = loss.item()
    text = "Be polite: start with 'Please'." if value >= 1.0 else f"Loss {value:.3f}."
    return to.Feedback(text=text, score=-value)


def steps_of(run_dir):
    return [e for e in read_events(run_dir) if e["event"] == "step"]


def test_a_multi_element_tensor_is_trained_by_adam(tmp_path):
    agent = Mixed(prompt=False, temperature=False, style=False)
    trainer = Trainer(agent, to.optim.Adam([agent.weights], lr=0.1), ROWS, ROWS[:2], guide, batch_size=2,
                      epochs=4, checkpoint_dir=tmp_path, progress=False)
    start = trainer.evaluate(ROWS[:2])
    result = trainer.fit()
    assert result.reason == "done" and result.steps == 12
    assert result.best_val_score > start + 0.5
    assert any(step["accepted"] for step in steps_of(tmp_path))
    assert not torch.equal(agent.weights.data, torch.zeros(3))
    resumed = Trainer(Mixed(False, False, False), to.optim.Adam([agent.weights], lr=0.1), ROWS, ROWS[:2], guide,
                      batch_size=2, epochs=4, checkpoint_dir=tmp_path, progress=False)
    assert resumed.resume().steps == 12  # the checkpoint holds the tensor and Adam's state


def test_a_tensor_and_a_prompt_train_together(tmp_path):
    agent = Mixed(temperature=False, style=False)
    llm = ScriptedFakeLLM()
    optimizer = to.optim.CompositeOptimizer([to.optim.Adam([agent.weights], lr=0.1),
                                             to.optim.OptoPrime([agent.prompt], llm=llm)])
    result = Trainer(agent, optimizer, ROWS, ROWS[:2], guide, batch_size=2, epochs=2, checkpoint_dir=tmp_path,
                     progress=False).fit()
    assert agent.prompt.data == "Please say hi." and result.best_val_score > -1.0
    steps = steps_of(tmp_path)
    assert steps[0]["proposals"][0] == {"name": "prompt", "value": "Please say hi.", "accepted": True, "reason": ""}


def test_auto_over_four_kinds_logs_every_childs_proposals_and_skips(tmp_path):
    agent = Mixed()
    llm = ScriptedFakeLLM()
    optimizer = to.optim.auto(agent.parameters(), llm=llm, tensor={"lr": 0.1}, number={"lr": 0.3}, seed=0)
    result = Trainer(agent, optimizer, ROWS, ROWS[:2], guide, batch_size=2, epochs=2, checkpoint_dir=tmp_path,
                     progress=False).fit()
    assert result.reason == "done" and result.steps == 6
    steps = steps_of(tmp_path)
    names = {p["name"] for step in steps for p in step["proposals"]}
    assert {"prompt", "temperature", "style"} <= names          # the LLM's and both searches' moves
    assert steps[0]["proposals"][0]["name"] == "temperature"     # SPSA's first move, logged like a proposal
    reasons = " ".join(step["reason"] or "" for step in steps)
    assert "OptoPrime: no usable proposal: ReplyError" in reasons  # the LLM child's skip, named
    page = write_report(tmp_path).read_text()
    assert "Please say hi." in page and "OptoPrime: no usable proposal" in page


def test_every_exported_optimizer_satisfies_the_contract():
    from trace_opt.optim.base import CONTRACT, Optimizer, satisfies_contract

    not_optimizers = {"StepReport", "CodeTrial", "NonFiniteGradientWarning"}   # a report, a setting, a warning
    classes = [getattr(to.optim, name) for name in to.optim.__all__
               if isinstance(getattr(to.optim, name), type) and name not in not_optimizers]
    assert len(classes) == 19
    for cls in classes:
        assert issubclass(cls, Optimizer), cls
        assert all(callable(getattr(cls, name, None)) for name in CONTRACT), cls
    w = to.Parameter(torch.zeros(2, requires_grad=True))
    for built in (to.optim.Lion([w]), to.optim.Adam([torch.zeros(1, requires_grad=True)]),
                  to.optim.SPSA([to.Parameter(0.5, bounds=(0, 1))]), to.optim.OptoPrime([to.Parameter("x")]),
                  to.optim.auto([to.Parameter(0.5, bounds=(0, 1)), to.Parameter("y")])):
        assert satisfies_contract(built), built
        assert isinstance(built.step(), to.optim.StepReport)
