"""backward: feedback reaches parameters, accumulates, and the graph stays intact."""
import gc
import weakref

import pytest

import trace_opt as to
from trace_opt.graph import Feedback, Propagator, ancestors, linking_subgraph, topological_order


def _workflow():
    prompt = to.Parameter("Answer:", name="prompt")
    temperature = to.Parameter(0.5, name="temperature", bounds=(0, 1))
    unused = to.Parameter("never used", name="unused")
    question = to.node("2+2?", name="question")
    text = prompt + " " + question
    out = text + str(temperature.data)
    scaled = temperature * 2
    return prompt, temperature, unused, out, scaled


def test_feedback_reaches_every_parameter_that_influenced_the_output():
    prompt, temperature, unused, out, scaled = _workflow()
    out.backward("Wrong: answer with a number.")
    assert [r.feedback.text for r in prompt.feedback] == ["Wrong: answer with a number."]
    record = prompt.feedback[0]
    assert record.output is out and record.parameter is prompt
    assert temperature.feedback == [] and unused.feedback == []
    scaled.backward(0.25)
    assert temperature.feedback[0].feedback == Feedback(score=0.25)


def test_feedback_accumulates_until_cleared_and_the_graph_survives():
    prompt, _, _, out, _ = _workflow()
    out.backward("first")
    out.backward(to.Feedback(text="second", score=0.0))
    assert [str(r.feedback) for r in prompt.feedback] == ["first", "second (score: 0)"]
    assert prompt in ancestors(out)  # backward does not tear the graph down
    prompt.zero_feedback()
    assert prompt.feedback == []


def test_the_record_gives_the_subgraph_linking_parameter_and_output():
    prompt, _, _, out, _ = _workflow()
    out.backward("fb")
    sub = prompt.feedback[0].subgraph()
    assert sub[0] is prompt and sub[-1] is out
    names = [n.name for n in sub]
    assert names == ["prompt", "add", "add", "add"]
    assert linking_subgraph([out], [prompt]) == sub


def test_frozen_parameters_get_no_feedback():
    p = to.Parameter("x", trainable=False)
    (p + "y").backward("fb")
    assert p.feedback == []


@pytest.mark.parametrize("bad", [["a list"], {"text": "dict"}, True, object()])
def test_backward_rejects_feedback_that_is_not_text_number_or_feedback(bad):
    out = to.Parameter("x") + "y"
    with pytest.raises(TypeError, match="feedback"):
        out.backward(bad)


def test_feedback_validates_its_fields():
    with pytest.raises(TypeError, match="text must be a str"):
        Feedback(text=3)
    with pytest.raises(TypeError, match="score must be a number"):
        Feedback(score="high")
    with pytest.raises(ValueError, match="finite"):
        Feedback(score=float("inf"))


def test_a_custom_propagator_is_used():
    class CountingPropagator(Propagator):
        def __init__(self):
            self.calls = []

        def propagate(self, output, feedback):
            self.calls.append((output, feedback, len(ancestors(output))))

    p = to.Parameter(1)
    out = (p + 1) * 3
    counter = CountingPropagator()
    out.backward("fb", propagator=counter)
    assert counter.calls == [(out, Feedback(text="fb"), 5)]
    assert p.feedback == []
    with pytest.raises(TypeError, match="propagator"):
        out.backward("fb", propagator=lambda o, f: None)


def test_a_100000_deep_chain_builds_and_backwards_without_recursion_error():
    p = to.Parameter(0)
    x = p
    for _ in range(100_000):
        x = x + 1
    x.backward("too large")
    assert x.data == 100_000
    assert p.feedback[0].output is x
    assert len(topological_order([x])) == 200_001
    assert len(p.feedback[0].subgraph()) == 100_001
    del x, p


def test_a_graph_dies_with_its_last_reference():
    p = to.Parameter("kept")
    out = (p + "a") + "b"
    middle = weakref.ref(out.parents[0])
    last = weakref.ref(out)
    out.backward("fb")
    del out
    gc.collect()
    assert middle() is not None  # the feedback record still refers to its output
    p.zero_feedback()
    gc.collect()
    assert middle() is None and last() is None
    assert p.data == "kept"


def test_a_deep_graph_is_freed_without_recursion_error():
    x = to.node(0)
    first = weakref.ref(x)
    for _ in range(100_000):
        x = x + 1
    del x
    gc.collect()
    assert first() is None


def test_scalar_tensor_output_runs_autograd_and_feedback_defaults_to_its_text():
    torch = pytest.importorskip("torch")
    w = to.Parameter(torch.zeros(3, requires_grad=True), name="w")
    x = torch.tensor([[1.0, 2.0, 3.0]])
    y = torch.tensor([1.0])
    loss = to.bundle()(lambda w, x, y: ((x @ w - y) ** 2).mean())(w, x, y)
    loss.backward()
    assert torch.allclose(w.data.grad, torch.tensor([-2.0, -4.0, -6.0]))
    assert w.feedback[0].feedback.text.startswith("tensor(1.")
