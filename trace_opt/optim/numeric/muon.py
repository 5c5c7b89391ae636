"""Muon for 2-D tensors, AdamW for the rest, behind one optimizer.

Muon (Jordan et al. 2024, "Muon: An optimizer for hidden layers in neural networks";
Liu et al. 2025, "Muon is Scalable for LLM Training") replaces a matrix's momentum by its
nearest semi-orthogonal matrix (a few Newton-Schulz iterations) before the update. It is
defined for 2-D tensors only, so each parameter group is split: 2-D tensors take Muon, the
others (biases, norms, embeddings given as 1-D, convolution kernels) take AdamW with the
``adamw_*`` options.

On CUDA, torch's own Muon update runs (its Newton-Schulz iteration is in bfloat16, fast on
tensor cores); elsewhere, or on a torch without Muon, the same iteration runs in float32
(bfloat16 matrix products are slow and coarse on CPUs). Defaults are torch.optim.Muon's.
"""
from __future__ import annotations

import inspect
import math
import sys
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch
from torch.optim.adamw import adamw as _adamw

from ._params import TensorParams, as_param_list

__all__ = ["Muon"]

NS_COEFFICIENTS = (3.4445, -4.775, 2.0315)


def _torch_muon_update() -> Optional[Callable]:
    """torch's functional Muon update, if this torch has one with the expected arguments."""
    muon_class = getattr(torch.optim, "Muon", None)
    update = getattr(sys.modules.get(getattr(muon_class, "__module__", ""), None), "muon", None)
    if update is None:
        return None
    expected = {"lr", "weight_decay", "momentum", "nesterov", "ns_coefficients", "ns_steps", "eps", "adjust_lr_fn"}
    return update if expected <= set(inspect.signature(update).parameters) else None


_TORCH_MUON = _torch_muon_update()


def orthogonalize(update: torch.Tensor, coefficients: Tuple[float, float, float], steps: int, eps: float) -> torch.Tensor:
    """Newton-Schulz iteration towards the nearest semi-orthogonal matrix, in float32."""
    a, b, c = coefficients
    x = update.float()
    tall = x.size(0) > x.size(1)
    if tall:
        x = x.T
    x = x / x.norm().clamp(min=eps)
    for _ in range(steps):
        gram = x @ x.T
        x = torch.addmm(x, torch.addmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
    return (x.T if tall else x).to(update.dtype)


def adjusted_lr(lr: float, adjust_lr_fn: Optional[str], shape: torch.Size) -> float:
    """torch's rule: 'original' scales by sqrt(max(1, rows/cols)), 'match_rms_adamw' by 0.2 sqrt(max(rows, cols))."""
    rows, cols = shape[:2]
    if adjust_lr_fn in (None, "original"):
        return lr * math.sqrt(max(1.0, rows / cols))
    return lr * 0.2 * math.sqrt(max(rows, cols))


class Muon(TensorParams, torch.optim.Optimizer):
    """Muon for 2-D tensors, AdamW for the others.

    Args:
        params: tensors, ``nn.Parameter``s or trace_opt tensor Parameters, or parameter groups.
        lr, weight_decay, momentum, nesterov, ns_coefficients, eps, ns_steps, adjust_lr_fn:
            Muon's, as in ``torch.optim.Muon`` (defaults 1e-3, 0.1, 0.95, True, (3.4445, -4.775,
            2.0315), 1e-7, 5, None).
        adamw_lr, adamw_betas, adamw_eps, adamw_weight_decay: AdamW's for the non-2-D tensors
            (defaults those of ``torch.optim.AdamW``); a group may override them too.
        check_finite: skip a step whose gradients hold NaN or Inf, with a warning (default True).

    Each group is split into a Muon group (``use_muon=True``) and an AdamW group, so
    ``param_groups`` may hold more groups than were given; LR schedulers scale both.
    """

    def __init__(self, params: Any, lr: float = 1e-3, weight_decay: float = 0.1, momentum: float = 0.95,
                 nesterov: bool = True, ns_coefficients: Tuple[float, float, float] = NS_COEFFICIENTS,
                 eps: float = 1e-7, ns_steps: int = 5, adjust_lr_fn: Optional[str] = None, *,
                 adamw_lr: float = 1e-3, adamw_betas: Tuple[float, float] = (0.9, 0.999), adamw_eps: float = 1e-8,
                 adamw_weight_decay: float = 0.01, check_finite: bool = True) -> None:
        self.check_finite = bool(check_finite)
        if not (lr >= 0.0 and adamw_lr >= 0.0 and momentum >= 0.0 and weight_decay >= 0.0 and adamw_weight_decay >= 0.0):
            raise ValueError("Muon: lr, adamw_lr, momentum and the weight decays must be >= 0")
        if adjust_lr_fn not in (None, "original", "match_rms_adamw"):
            raise ValueError(f"Muon: adjust_lr_fn must be None, 'original' or 'match_rms_adamw', got {adjust_lr_fn!r}")
        if not (isinstance(ns_steps, int) and 0 < ns_steps < 100):
            raise ValueError(f"Muon: ns_steps must be an int in [1, 99], got {ns_steps!r}")
        defaults = dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                        ns_coefficients=tuple(ns_coefficients), eps=eps, ns_steps=ns_steps, adjust_lr_fn=adjust_lr_fn,
                        adamw_lr=adamw_lr, adamw_betas=tuple(adamw_betas), adamw_eps=adamw_eps,
                        adamw_weight_decay=adamw_weight_decay, use_muon=None)
        super().__init__(as_param_list(params, "Muon"), defaults)

    def _add_checked_group(self, group: Dict[str, Any]) -> None:
        """Split a group: 2-D tensors to Muon, the rest to AdamW (its lr, eps and weight decay
        come from the adamw_* options)."""
        def tensor(item: Any) -> torch.Tensor:
            return item[1] if isinstance(item, tuple) else item

        if group.get("use_muon") is not None:  # already split (add_param_group of a split group)
            if group["use_muon"] and any(tensor(i).ndim != 2 for i in group["params"]):
                raise ValueError("Muon: a group with use_muon=True may hold 2-D tensors only")
            super()._add_checked_group(group)
            return
        matrices = [i for i in group["params"] if tensor(i).ndim == 2]
        others = [i for i in group["params"] if tensor(i).ndim != 2]
        if matrices or not others:
            super()._add_checked_group({**group, "params": matrices, "use_muon": True})
        if others:
            options = {**self.defaults, **group}
            super()._add_checked_group({**group, "params": others, "use_muon": False, "lr": options["adamw_lr"],
                                        "eps": options["adamw_eps"], "weight_decay": options["adamw_weight_decay"]})

    @torch.no_grad()
    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:
        """One update of every parameter that has a gradient; skipped with a warning when a
        gradient holds NaN or Inf."""
        loss = self._begin_step(closure)
        gathered = [[p for p in group["params"] if p.grad is not None] for group in self.param_groups]
        params = [p for ps in gathered for p in ps]
        if not self._grads_finite(params, [p.grad for p in params]):
            return self._outcome(loss, closure, skipped=True)
        for group, ps in zip(self.param_groups, gathered):
            if ps:
                (self._muon_step if group["use_muon"] else self._adamw_step)(group, ps)
        return self._outcome(loss, closure, skipped=False)

    def _state(self, p: torch.Tensor, names: Tuple[str, ...]) -> List[torch.Tensor]:
        state = self.state[p]
        found = []
        for name in names:
            if name not in state:
                state[name] = torch.zeros_like(p, memory_format=torch.preserve_format)
            value = state[name]
            if value.device != p.device or value.dtype != p.dtype:
                raise RuntimeError(self._state_misplaced() or f"state {name!r} of {self.name_of(p)} is misplaced")
            found.append(value)
        return found

    def _muon_step(self, group: Dict[str, Any], ps: List[torch.Tensor]) -> None:
        lr, momentum, weight_decay = group["lr"], group["momentum"], group["weight_decay"]
        on_gpu = [p for p in ps if p.device.type == "cuda"] if _TORCH_MUON is not None else []
        if on_gpu:
            _TORCH_MUON(on_gpu, [p.grad for p in on_gpu], [self._state(p, ("momentum_buffer",))[0] for p in on_gpu],
                        lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=group["nesterov"],
                        ns_coefficients=group["ns_coefficients"], ns_steps=group["ns_steps"], eps=group["eps"],
                        adjust_lr_fn=group["adjust_lr_fn"], has_complex=False)
        for p in ps:
            if on_gpu and p.device.type == "cuda":
                continue
            (buf,) = self._state(p, ("momentum_buffer",))
            buf.lerp_(p.grad, 1 - momentum)
            update = p.grad.lerp(buf, momentum) if group["nesterov"] else buf
            update = orthogonalize(update, group["ns_coefficients"], group["ns_steps"], group["eps"])
            p.mul_(1 - lr * weight_decay)
            p.add_(update, alpha=-adjusted_lr(lr, group["adjust_lr_fn"], p.shape))

    def _adamw_step(self, group: Dict[str, Any], ps: List[torch.Tensor]) -> None:
        moments = [self._state(p, ("exp_avg", "exp_avg_sq")) for p in ps]
        steps = [self.state[p].setdefault("step", torch.tensor(0.0)) for p in ps]
        beta1, beta2 = group["adamw_betas"]
        _adamw(ps, [p.grad for p in ps], [m[0] for m in moments], [m[1] for m in moments], [], steps,
               amsgrad=False, beta1=beta1, beta2=beta2, lr=group["lr"], weight_decay=group["weight_decay"],
               eps=group["eps"], maximize=False)
