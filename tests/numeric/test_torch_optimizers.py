"""SGD, Adam, AdamW: torch's classes, taking trace_opt tensor Parameters, fused when possible."""
import math

import pytest
import torch

import trace_opt as to
from trace_opt.optim import SGD, Adam, AdamW


def test_adam_two_steps_match_the_formula_by_hand():
    w = to.Parameter(torch.tensor([1.0, -2.0], requires_grad=True), name="w")
    opt = Adam([w], lr=0.1, betas=(0.9, 0.999), eps=1e-8)
    grads = [[0.5, -1.0], [0.2, 0.4]]
    expected, m, v = [1.0, -2.0], [0.0, 0.0], [0.0, 0.0]
    for t, g in enumerate(grads, start=1):
        w.data.grad = torch.tensor(g)
        opt.step()
        for i in range(2):
            m[i] = 0.9 * m[i] + 0.1 * g[i]
            v[i] = 0.999 * v[i] + 0.001 * g[i] ** 2
            m_hat, v_hat = m[i] / (1 - 0.9 ** t), v[i] / (1 - 0.999 ** t)
            expected[i] -= 0.1 * m_hat / (math.sqrt(v_hat) + 1e-8)
    assert w.data.tolist() == pytest.approx(expected, rel=1e-6)


def test_sgd_with_momentum_and_adamw_decay_by_hand():
    p = torch.tensor([1.0, 2.0], requires_grad=True)
    sgd = SGD([p], lr=0.5, momentum=0.9)
    for g in ([1.0, -1.0], [1.0, 1.0]):
        p.grad = torch.tensor(g)
        sgd.step()
    # buffer: [1, -1] then [1.9, 0.1]; p: [1, 2] - 0.5 * [1, -1] - 0.5 * [1.9, 0.1]
    assert p.tolist() == pytest.approx([1.0 - 0.5 - 0.95, 2.0 + 0.5 - 0.05])

    q = torch.tensor([2.0], requires_grad=True)
    adamw = AdamW([q], lr=0.1, weight_decay=0.5)
    q.grad = torch.tensor([3.0])
    adamw.step()
    # decoupled decay first: 2 * (1 - 0.1 * 0.5) = 1.9; then Adam's first step moves by lr * sign(g)
    assert q.item() == pytest.approx(1.9 - 0.1, rel=1e-6)


def test_fused_is_chosen_for_floating_tensors_on_one_device_unless_told_otherwise():
    params = [torch.zeros(3, requires_grad=True), torch.zeros(2, dtype=torch.float64, requires_grad=True)]
    assert Adam(params).defaults["fused"] is True
    assert Adam(params, foreach=True).defaults["fused"] is None
    assert Adam(params, fused=False).defaults["fused"] is False
    assert SGD(params, lr=0.1).defaults["fused"] is True


def test_trace_parameters_train_through_a_traced_loss_and_zero_feedback_clears_both_channels():
    w = to.Parameter(torch.zeros(3, requires_grad=True), name="w")
    x = torch.tensor([[1.0, 2.0, 3.0], [0.0, 1.0, 0.0]])
    y = torch.tensor([1.0, 0.5])
    loss_of = to.bundle()(lambda w, x, y: ((x @ w - y) ** 2).mean())
    opt = Adam([w], lr=0.05)
    first = None
    for _ in range(200):
        opt.zero_feedback()
        loss = loss_of(w, x, y)
        first = first if first is not None else loss.data.item()
        loss.backward()
        opt.step()
    assert loss.data.item() < first / 100
    assert w.feedback and w.data.grad is not None
    opt.zero_feedback()
    assert w.feedback == [] and w.data.grad is None
    assert opt.trace_parameters() == [w]


def test_step_hooks_run_once_even_when_torchs_own_class_was_patched():
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # torch wraps torch.optim.Adam.step with its hooks
    p = torch.zeros(2, requires_grad=True)
    opt = Adam([p], lr=0.1)
    calls = []
    opt.register_step_pre_hook(lambda *args: calls.append("pre"))
    opt.register_step_post_hook(lambda *args: calls.append("post"))
    p.grad = torch.ones(2)
    opt.step()
    assert calls == ["pre", "post"]


def test_closure_and_lr_scheduler_work_as_in_torch():
    p = torch.tensor([3.0], requires_grad=True)
    opt = SGD([p], lr=1.0)
    scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)

    def closure():
        opt.zero_grad()
        loss = (p ** 2).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 9.0
    assert p.item() == pytest.approx(3.0 - 6.0)
    scheduler.step()
    assert opt.param_groups[0]["lr"] == 0.5


def test_module_parameters_given_as_generators_inside_groups_are_all_kept():
    layer = torch.nn.Linear(3, 2)
    opt = Adam([{"params": layer.parameters(), "lr": 0.1}])  # read once to choose fused, once by torch
    assert len(opt.param_groups[0]["params"]) == 2 and opt.defaults["fused"] is True
