"""Bad input gets a clear error, or the documented behaviour (a NaN gradient skips the step)."""
import warnings

import pytest
import torch

import trace_opt as to
from trace_opt.optim import SGD, Adam, AdamW, Lion, Muon, NonFiniteGradientWarning, Sophia

ALL = [
    pytest.param(lambda ps, **kw: SGD(ps, lr=0.1, momentum=0.9, **kw), id="SGD"),
    pytest.param(lambda ps, **kw: Adam(ps, **kw), id="Adam"),
    pytest.param(lambda ps, **kw: AdamW(ps, **kw), id="AdamW"),
    pytest.param(lambda ps, **kw: Lion(ps, **kw), id="Lion"),
    pytest.param(lambda ps, **kw: Lion(ps, flat=True, **kw), id="Lion-flat"),
    pytest.param(lambda ps, **kw: Lion(ps, foreach=True, **kw), id="Lion-foreach"),
    pytest.param(lambda ps, **kw: Sophia(ps, **kw), id="Sophia"),
    pytest.param(lambda ps, **kw: Sophia(ps, flat=True, **kw), id="Sophia-flat"),
    pytest.param(lambda ps, **kw: Muon(ps, **kw), id="Muon"),
]


@pytest.mark.parametrize("make", ALL)
def test_a_non_leaf_tensor_is_refused_with_the_fix(make):
    leaf = torch.randn(2, 2, requires_grad=True)
    with pytest.raises(ValueError, match=r"not a leaf tensor \(it was computed by MulBackward0\).*detach\(\)"):
        make([leaf * 2])


@pytest.mark.parametrize("make", ALL)
def test_a_parameter_in_two_groups_or_twice_in_one_is_refused(make):
    w = to.Parameter(torch.randn(2, 2, requires_grad=True), name="w")
    with pytest.raises(ValueError, match=r"parameter 'w' \(shape \[2, 2\], cpu float32\) appears in more than one"):
        make([{"params": [w]}, {"params": [w.data]}])
    with pytest.raises(ValueError, match="appears twice in one parameter group"):
        make([w, w])


@pytest.mark.parametrize("make", ALL)
def test_a_nan_gradient_skips_the_whole_step_with_a_warning(make):
    good, bad = torch.randn(3, 2, requires_grad=True), to.Parameter(torch.randn(4, 2, requires_grad=True), name="bias")
    opt = make([good, bad])
    good.grad, bad.data.grad = torch.ones(3, 2), torch.ones(4, 2)
    opt.step()
    before = [good.detach().clone(), bad.data.detach().clone()]
    state_before = {k: str(v) for k, v in opt.state_dict()["state"].items()}
    good.grad = torch.ones(3, 2)
    bad.data.grad = torch.tensor([[1.0, float("nan")], [0.0, 0.0], [float("inf"), 1.0], [0.0, 0.0]])
    with pytest.warns(NonFiniteGradientWarning, match=r"step\(\) skipped: .*parameter 'bias'") as caught:
        opt.step()
    assert "good" not in str(caught[0].message) and caught[0].filename == __file__
    assert torch.equal(good.detach(), before[0]) and torch.equal(bad.data.detach(), before[1])
    assert {k: str(v) for k, v in opt.state_dict()["state"].items()} == state_before


def test_a_nan_among_many_small_gradients_is_found_in_any_piece():
    """Small CPU gradients are checked concatenated in pieces: a NaN in any piece, in any shape
    or dtype, still skips the step and is named."""
    params = [torch.zeros(5, 3, requires_grad=True) for _ in range(150)]
    params += [torch.zeros(40_000, requires_grad=True), torch.zeros(7, dtype=torch.float16, requires_grad=True)]
    for index in (0, 63, 64, 149, 151):
        opt = Lion(params, lr=0.1)
        for p in params:
            p.grad = torch.ones_like(p)
        params[index].grad.view(-1)[-1] = float("nan")
        with pytest.warns(NonFiniteGradientWarning, match=rf"tensor #{index}\b"):
            opt.step()
        assert all(bool((p == 0).all()) for p in params)


def test_huge_but_finite_gradients_are_not_mistaken_for_nan():
    p = torch.zeros(4, requires_grad=True)
    opt = Lion([p], lr=0.1)
    p.grad = torch.full((4,), 3e38)  # their sum overflows float32
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step()
    assert p.tolist() == pytest.approx([-0.1] * 4)


def test_sophia_refuses_a_nan_hessian_estimate():
    p = torch.zeros(2, requires_grad=True)
    opt = Sophia([p])
    p.grad = torch.tensor([float("nan"), 1.0])
    with pytest.warns(NonFiniteGradientWarning, match=r"update_hessian\(\) skipped"):
        assert opt.update_hessian() is False
    assert "hessian" not in opt.state.get(p, {})


@pytest.mark.parametrize("make", [ALL[1], ALL[3], ALL[6], ALL[8]])
def test_state_on_another_dtype_than_its_parameter_is_a_clear_error(make):
    """On the CPU the device check runs through the same path as a dtype change."""
    p = to.Parameter(torch.randn(3, 3, requires_grad=True), name="w")
    opt = make([p])
    p.data.grad = torch.ones(3, 3)
    opt.step()
    with torch.no_grad():
        p.data.data = p.data.data.double()  # the tensor moved to another dtype (as module.to() does)
    p.data.grad = torch.ones(3, 3, dtype=torch.float64)
    with pytest.raises(RuntimeError, match=r"state '\w+' of parameter 'w' \(shape \[3, 3\], cpu float64\) is on cpu float32"):
        opt.step()


def test_a_flat_parameter_moved_to_another_dtype_is_a_clear_error():
    p = torch.randn(3, requires_grad=True)
    opt = Lion([p], flat=True)
    p.grad = torch.ones(3)
    opt.step()
    p.data = p.data.double()
    with pytest.raises(RuntimeError, match=r"moved away from cpu float32, where its flat optimizer state lives"):
        opt.step()


def test_a_trace_parameter_given_a_new_tensor_is_a_clear_error():
    w = to.Parameter(torch.zeros(2, requires_grad=True), name="w")
    opt = Lion([w])
    w.data = torch.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"parameter 'w' was given a new tensor.*copy_"):
        opt.step()


def test_wrong_kinds_and_shapes_of_params_are_named():
    prompt = to.Parameter("Answer.", name="prompt")
    with pytest.raises(TypeError, match=r"Adam optimizes tensors; parameter 'prompt' is text .*auto"):
        Adam([prompt])
    with pytest.raises(TypeError, match="wrap it in a list"):
        Lion(torch.zeros(2, requires_grad=True))
    with pytest.raises(TypeError, match="got a set"):
        SGD({torch.zeros(2, requires_grad=True)}, lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        Adam([])
    with pytest.raises(TypeError, match=r"updates dense floating point tensors; a tensor \(shape \[2\], cpu int64\)"):
        Lion([torch.zeros(2, dtype=torch.int64)])
    with pytest.raises(TypeError, match="optimizes torch tensors or trace_opt tensor Parameters, got str"):
        Sophia(["w"])
    with pytest.raises(ValueError, match="fused=True runs over the flat buffer; pass flat=True"):
        Lion([torch.zeros(2, requires_grad=True)], fused=True)
    with pytest.raises(ValueError, match="betas must be two numbers in"):
        Lion([torch.zeros(2, requires_grad=True)], betas=(0.9, 1.0))


def test_check_finite_false_leaves_nan_handling_to_the_caller():
    p = torch.zeros(2, requires_grad=True)
    opt = Adam([p], lr=0.1, check_finite=False)
    p.grad = torch.tensor([float("nan"), 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step()
    assert p.isnan()[0] and p[1].item() == pytest.approx(-0.1)
