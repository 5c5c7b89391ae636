"""SGD, Adam and AdamW: torch.optim's own, taking trace_opt tensor Parameters too.

They are subclasses of torch's classes, with the same arguments, state_dict, hooks and LR
schedulers. Unless ``foreach`` or ``fused`` is given, ``fused=True`` is chosen when every tensor
is floating point and all live on one device that has fused kernels (one kernel per step
instead of one per operation); otherwise torch picks its own default. A step with a NaN or Inf
gradient is skipped with a warning (see ``_params``); ``check_finite=False`` skips the check.
"""
from __future__ import annotations

from typing import Any, Callable, List, Optional

import torch
from torch.utils._foreach_utils import _get_fused_kernels_supported_devices

from ._params import TensorParams, as_param_list, tensors_of

__all__ = ["SGD", "Adam", "AdamW"]


def fusable(tensors: List[torch.Tensor]) -> bool:
    """All floating point, dense, on one device that has fused optimizer kernels."""
    if not tensors:
        return False
    device = tensors[0].device
    return (device.type in _get_fused_kernels_supported_devices()
            and all(t.device == device and t.is_floating_point() and not t.is_sparse for t in tensors))


class _TorchOptimizer(TensorParams):
    """The shared part: pick ``fused``, check before stepping, then run torch's step."""

    _torch_class: type = torch.optim.Optimizer

    def __init__(self, params: Any, *args: Any, check_finite: bool = True, **kwargs: Any) -> None:
        self.check_finite = bool(check_finite)
        params = as_param_list(params, type(self).__name__)
        if (kwargs.get("fused") is None and kwargs.get("foreach") is None and not kwargs.get("differentiable")
                and fusable(tensors_of(params))):
            kwargs["fused"] = True
        super().__init__(params, *args, **kwargs)

    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:
        """torch's step, after the checks: skipped (with a warning) on a non-finite gradient."""
        loss = self._begin_step(closure)
        params = [p for group in self.param_groups for p in group["params"] if p.grad is not None]
        if not self._grads_finite(params, [p.grad for p in params]):
            return self._outcome(loss, closure, skipped=True)
        torch_step = self._torch_class.step
        if getattr(torch_step, "hooked", False):  # torch wrapped it with the step hooks, which already ran
            torch_step = torch_step.__wrapped__
        try:
            torch_step(self)
        except RuntimeError as exc:
            misplaced = self._state_misplaced()
            if misplaced:
                raise RuntimeError(misplaced) from exc
            raise
        return self._outcome(loss, closure, skipped=False)


class SGD(_TorchOptimizer, torch.optim.SGD):
    """``torch.optim.SGD`` (same arguments, plus ``check_finite``) over trace_opt tensor Parameters or tensors."""

    _torch_class = torch.optim.SGD


class Adam(_TorchOptimizer, torch.optim.Adam):
    """``torch.optim.Adam`` (same arguments, plus ``check_finite``) over trace_opt tensor Parameters or tensors."""

    _torch_class = torch.optim.Adam


class AdamW(_TorchOptimizer, torch.optim.AdamW):
    """``torch.optim.AdamW`` (same arguments, plus ``check_finite``) over trace_opt tensor Parameters or tensors."""

    _torch_class = torch.optim.AdamW
