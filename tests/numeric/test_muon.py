"""Muon: 2-D tensors orthogonalized by Newton-Schulz (float32 on the CPU), the rest AdamW."""
import math

import pytest
import torch

import trace_opt as to
from trace_opt.optim import Muon


def newton_schulz_by_hand(g, steps=5, a=3.4445, b=-4.775, c=2.0315):
    """The iteration of Jordan et al., written out in float64."""
    x = g.double()
    tall = x.shape[0] > x.shape[1]
    if tall:
        x = x.T
    x = x / x.norm()
    for _ in range(steps):
        A = x @ x.T
        x = a * x + (b * A + c * A @ A) @ x
    return x.T if tall else x


def test_one_muon_step_matches_the_iteration_by_hand():
    w0 = torch.randn(6, 4)
    g = torch.randn(6, 4)
    w = to.Parameter(w0.clone().requires_grad_(), name="w")
    opt = Muon([w], lr=0.02, weight_decay=0.1, momentum=0.95)
    w.data.grad = g.clone()
    opt.step()
    # first step, nesterov: buffer = (1 - mu) g, update = g + mu (buffer - g) = (1 - mu^2) g; NS is scale-free
    expected = w0.double() * (1 - 0.02 * 0.1) - 0.02 * math.sqrt(6 / 4) * newton_schulz_by_hand(g)
    assert torch.allclose(w.data.double(), expected, atol=1e-5)
    assert torch.allclose(opt.state[w.data]["momentum_buffer"], 0.05 * g)


def test_non_matrices_go_to_adamw_in_their_own_group():
    w, b, k = torch.randn(5, 3, requires_grad=True), torch.randn(3, requires_grad=True), torch.randn(2, 2, 2, requires_grad=True)
    opt = Muon([w, b, k], lr=0.02, adamw_lr=0.01, adamw_weight_decay=0.0)
    assert [(g["use_muon"], len(g["params"]), g["lr"]) for g in opt.param_groups] == [(True, 1, 0.02), (False, 2, 0.01)]
    reference = torch.optim.AdamW([b.detach().clone().requires_grad_(), k.detach().clone().requires_grad_()],
                                  lr=0.01, weight_decay=0.0)
    for _ in range(3):
        grads = [torch.randn(3), torch.randn(2, 2, 2)]
        for p, q, g in zip((b, k), reference.param_groups[0]["params"], grads):
            p.grad, q.grad = g.clone(), g.clone()
        w.grad = torch.randn(5, 3)
        opt.step()
        reference.step()
    for p, q in zip((b, k), reference.param_groups[0]["params"]):
        assert torch.allclose(p, q)


def test_the_cpu_fallback_agrees_with_torchs_bfloat16_muon_to_its_precision():
    if not hasattr(torch.optim, "Muon"):
        pytest.skip("this torch has no Muon")
    w = torch.randn(8, 8, requires_grad=True)
    v = w.detach().clone().requires_grad_()
    ours, theirs = Muon([w], lr=0.05), torch.optim.Muon([v], lr=0.05)
    for _ in range(3):
        g = torch.randn(8, 8)
        w.grad, v.grad = g.clone(), g.clone()
        ours.step()
        theirs.step()
    assert torch.allclose(w, v, atol=5e-3)
