"""Tensor Parameters in the graph: backward runs torch autograd and still carries words."""
import pytest
import torch

import trace_opt as to


def test_given_feedback_travels_beside_the_gradient():
    w = to.Parameter(torch.tensor([1.0, 2.0], requires_grad=True), name="w")
    prompt = to.Parameter("Be brief.", name="prompt")
    loss = to.bundle()(lambda w: (w ** 2).sum())(w)
    answer = prompt + " ok"
    loss.backward(to.Feedback("the loss is too high", score=-5.0))
    answer.backward("too curt")
    assert w.data.grad.tolist() == [2.0, 4.0]
    assert [r.feedback.text for r in w.feedback] == ["the loss is too high"]
    assert [r.feedback.text for r in prompt.feedback] == ["too curt"]
    loss.backward()  # the graph stays: a second backward accumulates, as in torch
    assert w.data.grad.tolist() == [4.0, 8.0] and len(w.feedback) == 2


def test_outputs_that_are_not_a_scalar_needing_grad_need_words():
    w = to.Parameter(torch.ones(2, requires_grad=True), name="w")
    vector = to.bundle()(lambda w: w * 3)(w)
    with pytest.raises(TypeError, match="needs feedback .* unless it is a scalar tensor"):
        vector.backward()
    vector.backward("too large")  # words only: no autograd for a non-scalar
    assert w.data.grad is None and w.feedback[0].feedback.text == "too large"
    with torch.no_grad():
        detached = to.bundle()(lambda w: w.sum())(w)
    with pytest.raises(TypeError, match="needs feedback"):
        detached.backward()
