"""Sophia: momentum pre-conditioned by a diagonal Hessian estimate, clipped per coordinate.

Liu, Li, Hall, Liang, Ma (2023), "Sophia: A Scalable Stochastic Second-order Optimizer for
Language Model Pre-training", arXiv:2305.14342, Algorithm 3:

    m = beta1 * m + (1 - beta1) * g
    every k steps:  h = beta2 * h + (1 - beta2) * h_hat       (update_hessian)
    p = p - lr * weight_decay * p
    p = p - lr * clip(m / max(rho * h, eps), 1)

``h_hat`` is the Gauss-Newton-Bartlett estimate ``B * g_hat * g_hat`` (``g_hat``: the gradient of
the loss on labels sampled from the model, ``B`` the batch size) or a Hutchinson estimate
``u * (H u)`` passed in. Defaults follow the paper: betas (0.96, 0.99), eps 1e-12, k = 10, and
rho (the paper's gamma) 0.01; lr 1e-4 and weight decay 0.1 as in the authors' code (the paper
tunes both per model). Until the first Hessian update ``h`` is 0 and the step is
``-lr * sign(m)``.

In float16 ``eps / rho`` (1e-10 by default) rounds to 0, and an element with ``h = 0`` and
``m = 0`` would step by 0 / 0 = NaN; the floor is therefore raised to the dtype's smallest
normal number where it is below it (6.1e-5 in float16; float32 and bfloat16 keep 1e-10). The
fused kernel computes the ratio in float32 instead.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch

from ._elementwise import ElementwiseOptimizer, check_options

__all__ = ["Sophia"]


@lru_cache(maxsize=None)
def _tiny(dtype: torch.dtype) -> float:
    return torch.finfo(dtype).tiny


def _floor(group: Dict[str, Any], dtype: torch.dtype) -> float:
    """The floor of h, eps / rho, but at least the dtype's smallest normal number: then it does
    not round to 0 (0 / 0 where h = m = 0) and its reciprocal (the foreach path) is finite."""
    return max(group["eps"] / group["rho"], _tiny(dtype))


def _sophia_kernel(p: torch.Tensor, g: torch.Tensor, m: torch.Tensor, h: torch.Tensor, hyper: torch.Tensor) -> None:
    """The whole update in one expression, for torch.compile to fuse into one pass over memory."""
    lr, beta1, rho, eps, weight_decay = hyper[0], hyper[1], hyper[2], hyper[3], hyper[4]
    m_new = m * beta1 + g * (1 - beta1)
    # the ratio in hyper's dtype (float32 for float16 and bfloat16, where eps would round to 0);
    # a no-op for float32 and float64, and fused into the same pass for the others
    ratio = torch.clamp(m_new / torch.clamp(h.to(hyper.dtype) * rho, min=eps), -1, 1)
    p.copy_(p * (1 - lr * weight_decay) - lr * ratio)
    m.copy_(m_new)


class Sophia(ElementwiseOptimizer):
    """Sophia (Second-order Clipped Stochastic Optimization), Liu et al. 2023.

    Call ``update_hessian()`` every ``hessian_interval`` steps (``hessian_due()`` says when),
    after a backward pass whose gradients give the estimate::

        if opt.hessian_due():
            sampled_loss.backward()            # labels sampled from the model's own output
            opt.update_hessian(scale=batch_size)
            opt.zero_grad()
        loss.backward()
        opt.step()

    Args:
        params: tensors, ``nn.Parameter``s or trace_opt tensor Parameters, or parameter groups.
        lr: learning rate (1e-4). betas: momentum and Hessian decay (0.96, 0.99).
        rho: scale of the Hessian in the pre-conditioner, the paper's gamma (0.01).
        eps: floor of the pre-conditioner (1e-12). weight_decay: decoupled, scaled by lr (0.1).
        hessian_interval: k, steps between Hessian updates (10).
        foreach, flat, fused, check_finite: as for :class:`~trace_opt.optim.Lion`.
    """

    state_names = ("exp_avg", "hessian")

    def __init__(self, params: Any, lr: float = 1e-4, betas: Tuple[float, float] = (0.96, 0.99), rho: float = 0.01,
                 eps: float = 1e-12, weight_decay: float = 0.1, hessian_interval: int = 10, *,
                 foreach: Optional[bool] = None, flat: bool = False, fused: bool = False,
                 check_finite: bool = True) -> None:
        check_options("Sophia", lr, betas, weight_decay)
        if not (rho > 0.0 and eps > 0.0):
            raise ValueError(f"Sophia: rho and eps must be > 0, got {rho}, {eps}")
        if not (isinstance(hessian_interval, int) and hessian_interval >= 1):
            raise ValueError(f"Sophia: hessian_interval must be an int >= 1, got {hessian_interval!r}")
        defaults = dict(lr=lr, betas=tuple(betas), rho=rho, eps=eps, weight_decay=weight_decay,
                        hessian_interval=hessian_interval)
        super().__init__(params, defaults, foreach, flat, fused, check_finite)

    # -- the Hessian estimate ------------------------------------------------------------
    def hessian_due(self) -> bool:
        """True on the steps where the paper refreshes the Hessian estimate (0, k, 2k, ...)."""
        for group in self.param_groups:
            state = self.state.get(group["params"][0], {}) if group["params"] else {}
            if state.get("step", 0) % group["hessian_interval"] == 0:
                return True
        return False

    @torch.no_grad()
    def update_hessian(self, estimates: Optional[Sequence[Optional[torch.Tensor]]] = None, *, scale: float = 1.0) -> bool:
        """h = beta2 * h + (1 - beta2) * h_hat, for every parameter with an estimate.

        Without ``estimates``, h_hat = scale * grad * grad (Gauss-Newton-Bartlett: the gradients
        come from a loss on sampled labels, ``scale`` is the batch size). ``estimates``: one
        tensor (or None) per parameter, in the order of the parameter groups (Hutchinson).
        Returns False, changing nothing, when an estimate holds NaN or Inf (with a warning).
        """
        params = [p for group in self.param_groups for p in group["params"]]
        if estimates is None:
            pairs = [(p, p.grad) for p in params if p.grad is not None]
            factor = scale
        else:
            estimates = list(estimates)
            if len(estimates) != len(params):
                raise ValueError(f"Sophia.update_hessian: got {len(estimates)} estimates for {len(params)} parameters")
            for p, e in zip(params, estimates):
                if e is not None and (not isinstance(e, torch.Tensor) or e.shape != p.shape):
                    raise ValueError(f"Sophia.update_hessian: the estimate for {self.name_of(p)} must be a tensor "
                                     f"of its shape, got {getattr(e, 'shape', type(e).__name__)}")
            pairs = [(p, e) for p, e in zip(params, estimates) if e is not None]
            factor = None
        if not self._grads_finite([p for p, _ in pairs], [e for _, e in pairs], action="update_hessian()"):
            return False
        beta2_of = {p: group["betas"][1] for group in self.param_groups for p in group["params"]}
        for p, e in pairs:
            h = self._init_state(p)["hessian"]
            beta2 = beta2_of[p]
            h.mul_(beta2)
            if factor is None:
                h.add_(e, alpha=1 - beta2)
            else:
                h.addcmul_(e, e, value=(1 - beta2) * factor)
        return True

    # -- the update rule -----------------------------------------------------------------
    def _update_tensor(self, group: Dict[str, Any], p: torch.Tensor, g: torch.Tensor, states: Sequence[torch.Tensor],
                       scratch: Optional[torch.Tensor]) -> None:
        m, h = states
        lr, beta1, weight_decay, rho = group["lr"], group["betas"][0], group["weight_decay"], group["rho"]
        m.lerp_(g, 1 - beta1)
        if weight_decay:  # p - lr wd p, as an add: cheaper than a scalar multiply on the CPU
            p.add_(p, alpha=-lr * weight_decay)
        # clip(m / max(rho h, eps), 1) = clip(m / max(h, eps / rho), rho) / rho: one operation fewer
        ratio = torch.clamp(h, min=_floor(group, h.dtype), out=scratch)
        torch.div(m, ratio, out=ratio)
        ratio.clamp_(-rho, rho)
        p.add_(ratio, alpha=-lr / rho)

    def _update_foreach(self, group: Dict[str, Any], ps: List[torch.Tensor], gs: List[torch.Tensor],
                        states: Sequence[List[torch.Tensor]]) -> None:
        ms, hs = states
        lr, beta1, weight_decay, rho = group["lr"], group["betas"][0], group["weight_decay"], group["rho"]
        torch._foreach_lerp_(ms, gs, 1 - beta1)
        if weight_decay:  # p - lr wd p: the list add is several times cheaper than a scalar multiply on the CPU
            torch._foreach_add_(ps, ps, alpha=-lr * weight_decay)
        ratio = torch._foreach_clamp_min(hs, _floor(group, hs[0].dtype))  # as in _update_tensor; one dtype per list
        torch._foreach_reciprocal_(ratio)  # m / d as m * (1 / d): one temporary list, not two
        torch._foreach_mul_(ratio, ms)
        torch._foreach_clamp_min_(ratio, -rho)
        torch._foreach_clamp_max_(ratio, rho)
        torch._foreach_add_(ps, ratio, alpha=-lr / rho)

    def _hyper(self, group: Dict[str, Any]) -> List[float]:
        return [group["lr"], group["betas"][0], group["rho"], group["eps"], group["weight_decay"]]

    _fused_kernel = staticmethod(_sophia_kernel)
