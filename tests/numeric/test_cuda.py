"""On a GPU: every optimizer updates tensors on their device and agrees with its CPU run.
Skipped where no CUDA device is present."""
import pytest
import torch

import trace_opt as to
from trace_opt.optim import Adam, Lion, Muon, Sophia

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

CASES = [  # (optimizer, tolerance against the CPU run)
    pytest.param(lambda ps: Adam(ps, lr=0.01), 1e-5, id="Adam-fused"),
    pytest.param(lambda ps: Lion(ps, lr=0.01, weight_decay=0.1), 1e-5, id="Lion-foreach"),
    pytest.param(lambda ps: Lion(ps, lr=0.01, foreach=False), 1e-5, id="Lion-per-tensor"),
    pytest.param(lambda ps: Lion(ps, lr=0.01, flat=True), 1e-5, id="Lion-flat"),
    pytest.param(lambda ps: Sophia(ps, lr=0.01), 1e-5, id="Sophia-foreach"),
    pytest.param(lambda ps: Sophia(ps, lr=0.01, flat=True), 1e-5, id="Sophia-flat"),
    pytest.param(lambda ps: Muon(ps, lr=0.02), 2e-2, id="Muon"),  # torch's Muon iterates in bfloat16 on CUDA
]


@pytest.mark.parametrize("make, tolerance", CASES)
def test_updates_stay_on_the_gpu_and_match_the_cpu(make, tolerance):
    shapes = [(16, 8), (8,), (4, 4)]
    init = [torch.randn(s) for s in shapes]
    grads = [[torch.randn(s) for s in shapes] for _ in range(3)]
    results = {}
    for device in ("cpu", "cuda"):
        params = [to.Parameter(t.clone().to(device).requires_grad_()) for t in init]
        opt = make(params)
        for gs in grads:
            opt.zero_feedback()
            for p, g in zip(params, gs):
                p.data.grad = g.to(device)
            if isinstance(opt, Sophia) and opt.hessian_due():
                opt.update_hessian(scale=2.0)
            opt.step()
        assert all(p.data.device.type == device for p in params)
        assert all(v.device.type == device for s in opt.state.values() for k, v in s.items()
                   if isinstance(v, torch.Tensor) and k != "step")
        results[device] = [p.data.detach().cpu() for p in params]
    for a, b in zip(results["cpu"], results["cuda"]):
        assert torch.allclose(a, b, atol=tolerance)


def test_autograd_through_a_traced_loss_fills_gradients_on_the_gpu():
    w = to.Parameter(torch.zeros(3, device="cuda", requires_grad=True), name="w")
    x = torch.ones(2, 3, device="cuda")
    loss = to.bundle()(lambda w, x: (x @ w - 1).pow(2).mean())(w, x)
    loss.backward()
    assert w.data.grad.device.type == "cuda" and w.feedback
