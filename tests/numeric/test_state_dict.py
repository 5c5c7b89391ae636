"""state_dict mid-training: a fresh optimizer loaded from it continues exactly as the original."""
import copy

import pytest
import torch

from trace_opt.optim import SGD, Adam, AdamW, Lion, Muon, Sophia

from .conftest import set_grads

CASES = [
    pytest.param(lambda ps: SGD(ps, lr=0.1, momentum=0.9), id="SGD"),
    pytest.param(lambda ps: Adam(ps, lr=0.01), id="Adam"),
    pytest.param(lambda ps: AdamW(ps, lr=0.01, weight_decay=0.1), id="AdamW"),
    pytest.param(lambda ps: Lion(ps, lr=0.01, weight_decay=0.1), id="Lion"),
    pytest.param(lambda ps: Lion(ps, lr=0.01, foreach=True), id="Lion-foreach"),
    pytest.param(lambda ps: Lion(ps, lr=0.01, flat=True), id="Lion-flat"),
    pytest.param(lambda ps: Sophia(ps, lr=0.01, hessian_interval=2), id="Sophia"),
    pytest.param(lambda ps: Sophia(ps, lr=0.01, hessian_interval=2, flat=True), id="Sophia-flat"),
    pytest.param(lambda ps: Muon(ps, lr=0.02), id="Muon"),
]


def _train(opt, params, grads):
    for g in grads:
        opt.zero_grad()
        set_grads(params, g)
        if isinstance(opt, Sophia) and opt.hessian_due():
            opt.update_hessian(scale=4.0)
        opt.step()


@pytest.mark.parametrize("make", CASES)
def test_round_trip_mid_training_continues_identically(make):
    shapes = [(4, 3), (3,), (2, 5)]
    params = [torch.randn(s, requires_grad=True) for s in shapes]
    grads = [[torch.randn(s) for s in shapes] for _ in range(6)]
    opt = make(params)
    _train(opt, params, grads[:3])

    saved_values = [p.detach().clone() for p in params]
    saved_state = copy.deepcopy(opt.state_dict())
    _train(opt, params, grads[3:])
    expected = [p.detach().clone() for p in params]

    fresh = [v.clone().requires_grad_() for v in saved_values]
    resumed = make(fresh)
    resumed.load_state_dict(saved_state)
    _train(resumed, fresh, grads[3:])
    for a, b in zip(expected, fresh):
        assert torch.equal(a, b.detach())
    assert len(resumed.state_dict()["state"]) == len(opt.state_dict()["state"])


def test_loading_casts_state_to_each_parameters_dtype():
    """torch's documented behaviour, kept: state follows its parameter's device and dtype."""
    double = [torch.randn(3, dtype=torch.float64, requires_grad=True)]
    opt = Lion(double, lr=0.1)
    double[0].grad = torch.randn(3, dtype=torch.float64)
    opt.step()
    single = [double[0].detach().float().requires_grad_()]
    resumed = Lion(single, lr=0.1)
    resumed.load_state_dict(opt.state_dict())
    assert resumed.state[single[0]]["exp_avg"].dtype == torch.float32
    single[0].grad = torch.randn(3)
    resumed.step()
