"""to.optim.auto trains a mixed module on the real local model (replayed from cassettes):
a prompt (LLM optimizer), a tensor (Adam), a bounded float (SPSA) and a choice (ChoiceSearch)."""
import pytest

import trace_opt as to

torch = pytest.importorskip("torch")

TARGET = torch.tensor([0.5, -0.25, 1.0])


@to.bundle()
def squared_error(weights, target):
    """How far the weights are from the target (a scalar tensor loss)."""
    return ((weights - target) ** 2).sum()


@to.bundle()
def announce(reply, volume):
    """The reply as spoken at a volume."""
    return f"{reply} [volume {volume:.2f}]"


class Greeter(to.Module):
    def __init__(self, llm):
        super().__init__()
        self.llm = llm
        self.prompt = to.Parameter("Greet the user.", description="system prompt of the greeter")
        self.style = to.Parameter("formal", choices=["formal", "casual"], description="tone of the greeting")
        self.volume = to.Parameter(0.2, bounds=(0.0, 1.0), description="how loud the greeting is spoken")
        self.weights = to.Parameter(torch.zeros(3, requires_grad=True), description="a learned embedding")

    def forward(self):
        reply = to.ops.llm_call(self.prompt + " Tone: " + self.style, "Hello!", llm=self.llm)
        return announce(reply, self.volume), squared_error(self.weights, TARGET)


def score(greeter, spoken):
    """Higher is better: short greetings, spoken near volume 0.8, in a casual tone."""
    return -abs(greeter.volume.data - 0.8) - len(spoken) / 1000 + (0.2 if greeter.style.data == "casual" else 0.0)


@pytest.mark.vcr
def test_auto_trains_a_prompt_a_tensor_a_bounded_float_and_a_choice_together(local_llm):
    greeter = Greeter(local_llm)
    opt = to.optim.auto(greeter.parameters(), llm=local_llm, tensor={"lr": 0.1}, seed=0)
    first = {name: value for name, value in greeter.state_dict().items() if name != "weights"}
    losses = []
    for _ in range(4):
        opt.zero_feedback()
        spoken, loss = greeter()
        losses.append(loss.data.item())
        loss.backward()  # torch autograd: the tensor's gradient
        spoken.backward(to.Feedback(text="Greet in fewer words, casually, a bit louder.", score=score(greeter, spoken.data)))
        opt.step()
    assert losses[-1] < losses[0] and greeter.weights.data.grad is not None
    assert greeter.prompt.data != first["prompt"]            # the LLM optimizer changed the text
    assert greeter.volume.data != first["volume"] and 0.0 <= greeter.volume.data <= 1.0   # SPSA explored, in bounds
    assert greeter.style.data in ("formal", "casual")
    assert greeter.weights.data.device == TARGET.device
