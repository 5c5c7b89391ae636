"""Lion and Sophia: one step against the papers' update rules computed by hand, in every mode."""
import math

import pytest
import torch

import trace_opt as to
from trace_opt.optim import Lion, Sophia

from .conftest import set_grads

MODES = [
    pytest.param(dict(foreach=False), id="per-tensor"),
    pytest.param(dict(foreach=True), id="foreach"),
    pytest.param(dict(flat=True), id="flat"),
    pytest.param(dict(flat=True, fused=True), id="flat-fused", marks=pytest.mark.slow),
]


def _sign(x):
    return (x > 0) - (x < 0)


def lion_by_hand(p, m, g, lr, beta1, beta2, wd):
    """Chen et al. 2023, Algorithm 2, one coordinate at a time."""
    new_p, new_m = [], []
    for pi, mi, gi in zip(p, m, g):
        c = beta1 * mi + (1 - beta1) * gi
        new_p.append(pi - lr * (_sign(c) + wd * pi))
        new_m.append(beta2 * mi + (1 - beta2) * gi)
    return new_p, new_m


def sophia_by_hand(p, m, h, g, lr, beta1, rho, eps, wd):
    """Liu et al. 2023, Algorithm 3 (after the Hessian update), one coordinate at a time."""
    new_p, new_m = [], []
    for pi, mi, hi, gi in zip(p, m, h, g):
        mi = beta1 * mi + (1 - beta1) * gi
        pi = pi - lr * wd * pi
        ratio = max(-1.0, min(1.0, mi / max(rho * hi, eps)))
        new_p.append(pi - lr * ratio)
        new_m.append(mi)
    return new_p, new_m


@pytest.mark.parametrize("mode", MODES)
def test_lion_two_steps_match_the_paper_by_hand(mode):
    start = [1.0, -0.5, 0.0, 2.0]
    w = to.Parameter(torch.tensor(start, requires_grad=True), name="w")
    other = torch.tensor([[0.25, -0.75]], requires_grad=True)
    opt = Lion([w, other], lr=0.1, betas=(0.9, 0.99), weight_decay=0.5, **mode)
    p, m = list(start), [0.0] * 4
    q, n = [0.25, -0.75], [0.0, 0.0]
    for g, k in (([0.3, -0.2, 0.0, 1e-3], [1.0, 0.0]), ([-0.5, -0.01, 0.2, -0.1], [-2.0, 0.5])):
        set_grads([w.data, other], [torch.tensor(g), torch.tensor([k])])
        opt.step()
        p, m = lion_by_hand(p, m, g, 0.1, 0.9, 0.99, 0.5)
        q, n = lion_by_hand(q, n, k, 0.1, 0.9, 0.99, 0.5)
    assert w.data.tolist() == pytest.approx(p, abs=1e-6)
    assert opt.state[w.data]["exp_avg"].tolist() == pytest.approx(m, abs=1e-6)
    assert other.detach()[0].tolist() == pytest.approx(q, abs=1e-6)
    assert opt.state[w.data]["step"] == 2


@pytest.mark.parametrize("mode", MODES[:3])
def test_lion_with_beta1_zero_steps_by_the_gradient_sign(mode):
    start, grads = [1.0, -0.5, 0.0], ([0.3, 0.0, -2.0], [-0.1, 0.4, 0.0])
    w = torch.tensor(start, requires_grad=True)
    opt = Lion([w], lr=0.1, betas=(0.0, 0.9), **mode)
    p, m = list(start), [0.0] * 3
    for g in grads:
        w.grad = torch.tensor(g)
        opt.step()
        p, m = lion_by_hand(p, m, g, 0.1, 0.0, 0.9, 0.0)
    assert w.detach().tolist() == pytest.approx(p, abs=1e-6)
    assert opt.state[w]["exp_avg"].tolist() == pytest.approx(m, abs=1e-6)
    assert torch.equal(w.grad, torch.tensor(grads[-1]))  # the gradient itself is left as it was


@pytest.mark.parametrize("mode", MODES)
def test_sophia_step_after_a_hessian_update_matches_the_paper_by_hand(mode):
    start, g_hat, g = [1.0, -1.0, 0.5], [1.0, 0.5, 0.1], [0.2, -0.4, 0.0]
    w = torch.tensor(start, requires_grad=True)
    opt = Sophia([w], lr=0.1, betas=(0.9, 0.99), rho=5.0, eps=1e-3, weight_decay=0.2, **mode)
    assert opt.hessian_due()
    w.grad = torch.tensor(g_hat)
    assert opt.update_hessian(scale=2.0)
    h = [0.01 * 2.0 * x * x for x in g_hat]
    assert opt.state[w]["hessian"].tolist() == pytest.approx(h)
    w.grad = torch.tensor(g)
    opt.step()
    p, m = sophia_by_hand(start, [0.0] * 3, h, g, 0.1, 0.9, 5.0, 1e-3, 0.2)
    assert w.tolist() == pytest.approx(p, abs=1e-6)  # one coordinate unclipped, one clipped, one zero
    assert opt.state[w]["exp_avg"].tolist() == pytest.approx(m, abs=1e-7)
    assert not opt.hessian_due()


def test_sophia_before_any_hessian_update_steps_by_the_sign_of_the_momentum():
    w = torch.tensor([1.0, 1.0], requires_grad=True)
    opt = Sophia([w], lr=0.01, weight_decay=0.0)
    w.grad = torch.tensor([0.5, -3.0])
    opt.step()
    assert w.tolist() == pytest.approx([0.99, 1.01])


def test_sophia_takes_hutchinson_estimates_and_checks_them():
    a, b = torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)
    opt = Sophia([a, b], betas=(0.9, 0.5))
    assert opt.update_hessian([torch.tensor([2.0, -4.0]), None])
    assert opt.state[a]["hessian"].tolist() == pytest.approx([1.0, -2.0])  # (1 - beta2) * estimate
    assert "hessian" not in opt.state.get(b, {})
    with pytest.raises(ValueError, match="got 1 estimates for 2 parameters"):
        opt.update_hessian([torch.zeros(2)])
    with pytest.raises(ValueError, match=r"must be a tensor of its shape"):
        opt.update_hessian([torch.zeros(3), None])


@pytest.mark.parametrize("cls", [Lion, Sophia])
def test_every_mode_gives_the_same_trajectory_on_many_tensors(cls):
    shapes = [(3, 4), (5,), (2, 2, 2), (1,), (7, 1)]
    init = [torch.randn(s) for s in shapes]
    grads = [[torch.randn(s) for s in shapes] for _ in range(4)]
    results = []
    for mode in (dict(foreach=False), dict(foreach=True), dict(flat=True)):
        params = [t.clone().requires_grad_() for t in init]
        opt = cls(params, lr=0.05, weight_decay=0.1, **mode)
        for step, gs in enumerate(grads):
            opt.zero_grad()
            set_grads(params, gs)
            if cls is Sophia and step == 1:
                opt.update_hessian(scale=3.0)
            opt.step()
        results.append([p.detach().clone() for p in params])
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert torch.allclose(a, b, atol=1e-6)


def test_flat_mode_keeps_views_and_adopts_replaced_gradients_and_values():
    params = [torch.randn(4, requires_grad=True), torch.randn(2, 3, requires_grad=True)]
    opt = Lion(params, lr=0.1, flat=True)
    set_grads(params, [torch.ones(4), torch.ones(2, 3)])
    opt.step()
    bucket = opt._flat[0][0]
    assert params[1].data_ptr() == bucket.param[4:].data_ptr()  # the parameter lives in the flat buffer
    opt.zero_grad()  # zeroes the flat gradient buffer in place, grads stay views
    assert params[0].grad is not None and params[0].grad.abs().sum() == 0
    (params[0].sum() + params[1].sum()).backward()  # autograd accumulates into the views
    assert bucket.grad.tolist() == [1.0] * 10
    params[0].grad = None  # a replaced gradient is treated as zero, then re-linked
    with torch.no_grad():
        params[1].data = torch.zeros(2, 3)  # a replaced value is copied into the buffer
    opt.step()
    assert params[1].data_ptr() == bucket.param[4:].data_ptr()
    assert torch.allclose(params[1], torch.full((2, 3), -0.1))
    assert opt.state[params[0]]["step"] == 2


def test_a_learning_rate_scheduler_drives_lion():
    p = torch.zeros(2, requires_grad=True)
    opt = Lion([p], lr=1.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 0.5 ** epoch)
    for _ in range(3):
        p.grad = torch.tensor([1.0, -1.0])
        opt.step()
        scheduler.step()
    assert p.tolist() == pytest.approx([-1.75, 1.75])


def test_lion_minimizes_a_quadratic_with_a_trace_parameter():
    w = to.Parameter(torch.tensor([3.0, -2.0], requires_grad=True), name="w")
    loss_of = to.bundle()(lambda w: ((w - torch.tensor([0.5, 0.5])) ** 2).sum())
    opt = Lion([w], lr=0.05)
    for _ in range(200):
        opt.zero_feedback()
        loss = loss_of(w)
        loss.backward()
        opt.step()
    assert loss.data.item() < 0.01 and math.isfinite(loss.data.item())


DTYPES = [pytest.param(d, id=str(d).split(".")[1]) for d in (torch.float16, torch.bfloat16, torch.float32)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("hessian", [False, True], ids=["no-hessian", "hessian"])
def test_sophia_stays_finite_in_low_precision(dtype, mode, hessian):
    # eps / rho = 1e-10 rounds to 0 in float16: coordinates 0 and 4 (h = m = 0) once gave 0 / 0
    start, g = [0.0, 1.0, -1.0, 2.0, 0.5], [0.0, 1.0, -1.0, 0.5, 0.0]
    w = torch.tensor(start, dtype=dtype, requires_grad=True)
    opt = Sophia([w], lr=0.1, weight_decay=0.1, **mode)
    w.grad = torch.tensor(g, dtype=dtype)
    if hessian:  # h = 0.01 * 1e4 * g^2: the ratios 0.04 / g stay below the clip
        assert opt.update_hessian(scale=1e4)
    opt.step()
    h = [100.0 * x * x for x in g] if hessian else [0.0] * 5
    p, m = sophia_by_hand(start, [0.0] * 5, h, g, 0.1, 0.96, 0.01, 1e-12, 0.1)
    assert torch.isfinite(w).all() and torch.isfinite(opt.state[w]["exp_avg"]).all()
    assert w[0].item() == 0.0
    torch.testing.assert_close(w.detach(), torch.tensor(p, dtype=dtype))
    torch.testing.assert_close(w[4].detach(), torch.tensor(0.5 * (1 - 0.1 * 0.1), dtype=dtype))  # weight decay only


def test_the_fused_sophia_kernel_run_eagerly_stays_finite_in_float16():
    # what torch.compile fuses (in float32 inside) must hold as written too
    from trace_opt.optim.numeric.sophia import _sophia_kernel

    p, g = torch.tensor([0.0, 1.0], dtype=torch.float16), torch.tensor([0.0, 1.0], dtype=torch.float16)
    m, h = torch.zeros(2, dtype=torch.float16), torch.zeros(2, dtype=torch.float16)
    _sophia_kernel(p, g, m, h, torch.tensor([0.1, 0.96, 0.01, 1e-12, 0.0]))
    assert p.tolist() == [0.0, pytest.approx(0.9, abs=1e-3)]


def _spy_paths(monkeypatch, cls):
    """Record the sizes each step sends one by one and together."""
    calls = {"alone": [], "together": []}
    update_tensor, update_foreach = cls._update_tensor, cls._update_foreach

    def alone(self, group, p, *rest):
        calls["alone"].append(p.numel())
        return update_tensor(self, group, p, *rest)

    def together(self, group, ps, *rest):
        calls["together"].append(sorted(p.numel() for p in ps))
        return update_foreach(self, group, ps, *rest)

    monkeypatch.setattr(cls, "_update_tensor", alone)
    monkeypatch.setattr(cls, "_update_foreach", together)
    return calls


def _mixed_group():
    """One large tensor (not first) among many small ones, one of them float64."""
    from trace_opt.optim.numeric._elementwise import SMALL_TENSOR

    tensors = [torch.randn(3, 4) for _ in range(10)] + [torch.randn(SMALL_TENSOR + 5)]
    tensors += [torch.randn(7) for _ in range(10)] + [torch.randn(5, dtype=torch.float64)]
    return tensors, [[torch.randn_like(t) for t in tensors] for _ in range(3)]


@pytest.mark.parametrize("cls", [Lion, Sophia])
def test_the_cpu_default_sends_large_tensors_alone_and_small_ones_together(cls, monkeypatch):
    from trace_opt.optim.numeric._elementwise import SMALL_TENSOR

    init, grads = _mixed_group()
    calls = _spy_paths(monkeypatch, cls)
    for foreach, alone, together in ((None, [SMALL_TENSOR + 5], [[5], [7] * 10 + [12] * 10]),
                                     (True, [], [[5], [7] * 10 + [12] * 10 + [SMALL_TENSOR + 5]]),
                                     (False, sorted(t.numel() for t in init), [])):
        calls["alone"].clear(), calls["together"].clear()
        params = [t.clone().requires_grad_() for t in init]
        set_grads(params, grads[0])
        cls(params, lr=0.05, foreach=foreach).step()
        assert sorted(calls["alone"]) == alone, foreach
        assert sorted(calls["together"]) == together, foreach  # one foreach call per dtype


@pytest.mark.parametrize("cls", [Lion, Sophia])
def test_a_mixed_group_by_default_matches_the_per_tensor_update_bitwise(cls):
    init, grads = _mixed_group()
    runs = {}
    for foreach in (None, False, True):
        params = [t.clone().requires_grad_() for t in init]
        opt = cls(params, lr=0.05, weight_decay=0.1, foreach=foreach)
        for step, gs in enumerate(grads):
            set_grads(params, gs)
            if cls is Sophia and step == 1:
                opt.update_hessian(scale=50.0)  # some ratios clipped, some not
            opt.step()
        runs[foreach] = [(p.detach(), *(opt.state[p][n] for n in cls.state_names)) for p in params]
    large = 10
    for i, (got, alone, together) in enumerate(zip(runs[None], runs[False], runs[True])):
        # Sophia's foreach divides as m * (1 / d), one rounding more than m / d: its small tensors
        # match the foreach run bitwise and the per-tensor one to the last bit or so
        expected = together if cls is Sophia and i != large else alone
        assert all(torch.equal(a, b) for a, b in zip(got, expected)), i
        assert all(torch.allclose(a, b, rtol=1e-6, atol=1e-9) for a, b in zip(got, alone)), i
