"""Lion: sign momentum, one state tensor per parameter.

Chen, Liang, Huang, Real, Wang, Pham, Dong, Luong, Hsieh, Lu, Le (2023), "Symbolic Discovery of
Optimization Algorithms", arXiv:2302.06675, Algorithm 2:

    c  = beta1 * m + (1 - beta1) * g
    p  = p - lr * (sign(c) + weight_decay * p)
    m  = beta2 * m + (1 - beta2) * g

Defaults are the paper's: betas (0.9, 0.99); the paper advises a learning rate 3-10x smaller
than AdamW's (1e-4 here) and a weight decay 3-10x larger (0 unless given, as in torch).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch

from ._elementwise import ElementwiseOptimizer, check_options

__all__ = ["Lion"]


def _lion_kernel(p: torch.Tensor, g: torch.Tensor, m: torch.Tensor, hyper: torch.Tensor) -> None:
    """The whole update in one expression, for torch.compile to fuse into one pass over memory."""
    lr, beta1, beta2, weight_decay = hyper[0], hyper[1], hyper[2], hyper[3]
    c = m * beta1 + g * (1 - beta1)
    p.copy_(p * (1 - lr * weight_decay) - lr * torch.sign(c))
    m.copy_(m * beta2 + g * (1 - beta2))


def _direction(m: torch.Tensor, g: torch.Tensor, beta1: float, out: Optional[torch.Tensor]) -> torch.Tensor:
    """A tensor with the sign of c = beta1 m + (1 - beta1) g: m + g (1 - beta1) / beta1 has it and
    costs one add, where lerp's out-of-place kernel is ~1.6x slower on the CPU (only the sign is used)."""
    if beta1:
        return torch.add(m, g, alpha=(1 - beta1) / beta1, out=out)
    return torch.mul(g, 1.0, out=out)


class Lion(ElementwiseOptimizer):
    """Lion (EvoLved Sign Momentum), Chen et al. 2023.

    Args:
        params: tensors, ``nn.Parameter``s or trace_opt tensor Parameters, or parameter groups.
        lr: learning rate (default 1e-4).
        betas: (beta1, beta2): interpolation for the update direction and momentum decay (0.9, 0.99).
        weight_decay: decoupled weight decay, scaled by ``lr`` as in the paper (default 0).
        foreach: None updates CPU tensors of 32 k values or more one by one and the others
            together (``torch._foreach_*``); True or False: all together, or all one by one.
        flat: keep each group's tensors in one flat buffer per device and dtype: for many small
            tensors (1,000 x 1 k values: ~1 us per tensor per step instead of ~10 on one CPU core).
        fused: with ``flat``, run the update as one torch.compile'd kernel.
        check_finite: skip a step whose gradients hold NaN or Inf, with a warning (default True).
    """

    state_names = ("exp_avg",)

    def __init__(self, params: Any, lr: float = 1e-4, betas: Tuple[float, float] = (0.9, 0.99),
                 weight_decay: float = 0.0, *, foreach: Optional[bool] = None, flat: bool = False,
                 fused: bool = False, check_finite: bool = True) -> None:
        check_options("Lion", lr, betas, weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), weight_decay=weight_decay)
        super().__init__(params, defaults, foreach, flat, fused, check_finite)

    def _update_tensor(self, group: Dict[str, Any], p: torch.Tensor, g: torch.Tensor, states: Sequence[torch.Tensor],
                       scratch: Optional[torch.Tensor]) -> None:
        (m,) = states
        lr, (beta1, beta2), weight_decay = group["lr"], group["betas"], group["weight_decay"]
        c = _direction(m, g, beta1, scratch)
        c.sign_()
        if weight_decay:  # p - lr wd p, as an add: cheaper than a scalar multiply on the CPU
            p.add_(p, alpha=-lr * weight_decay)
        p.add_(c, alpha=-lr)
        m.lerp_(g, 1 - beta2)

    def _update_foreach(self, group: Dict[str, Any], ps: List[torch.Tensor], gs: List[torch.Tensor],
                        states: Sequence[List[torch.Tensor]]) -> None:
        (ms,) = states
        lr, (beta1, beta2), weight_decay = group["lr"], group["betas"], group["weight_decay"]
        c = torch._foreach_add(ms, gs, alpha=(1 - beta1) / beta1) if beta1 else torch._foreach_mul(gs, 1.0)
        torch._foreach_sign_(c)
        if weight_decay:
            torch._foreach_add_(ps, ps, alpha=-lr * weight_decay)
        torch._foreach_add_(ps, c, alpha=-lr)
        torch._foreach_lerp_(ms, gs, 1 - beta2)

    def _hyper(self, group: Dict[str, Any]) -> List[float]:
        beta1, beta2 = group["betas"]
        return [group["lr"], beta1, beta2, group["weight_decay"]]

    _fused_kernel = staticmethod(_lion_kernel)
