"""Flat buffers: many small tensors of one device and dtype stored in one long vector.

An update over 1,000 tensors of 1k values costs 1,000 kernel launches (or Python calls) per
operation; over one flat vector it costs one. Each parameter, its gradient and each state
tensor become views into a bucket's buffers, so ``p``, ``p.grad`` and ``optimizer.state[p]``
look as before (``state_dict`` is unchanged). Autograd accumulates into ``p.grad`` in place, so
gradients land in the flat gradient buffer; a gradient or parameter replaced from outside
(``p.grad = None``, ``module.to(...)``) is copied back in at the next step.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Sequence

import torch


class FlatBucket:
    """The parameters of one group that share a device and dtype, and their state, flattened."""

    def __init__(self, params: Sequence[torch.Tensor], state_names: Sequence[str],
                 state: Dict[torch.Tensor, Dict[str, Any]]) -> None:
        first = params[0]
        self.params = list(params)
        self.device, self.dtype = first.device, first.dtype
        self.sizes = [p.numel() for p in self.params]
        self.offsets, total = [], 0
        for n in self.sizes:
            self.offsets.append(total)
            total += n
        self.numel = total
        make = dict(device=self.device, dtype=self.dtype)
        self.param = torch.empty(total, **make)
        self.grad = torch.zeros(total, **make)
        self.state = {name: torch.zeros(total, **make) for name in state_names}
        for i, p in enumerate(self.params):
            self._adopt_param(i, p)
            self._adopt_grad(i, p)
            slot = state.setdefault(p, {})
            for name, buffer in self.state.items():
                view = self.view(buffer, i)
                if name in slot:
                    view.copy_(slot[name])
                slot[name] = view
        self.param_ptrs = [p.data_ptr() for p in self.params]
        self.grad_ptrs = [p.grad.data_ptr() for p in self.params]

    def view(self, buffer: torch.Tensor, i: int) -> torch.Tensor:
        """The slice of a flat buffer that belongs to parameter ``i``, shaped like it."""
        start = self.offsets[i]
        return buffer[start:start + self.sizes[i]].view_as(self.params[i])

    def _adopt_param(self, i: int, p: torch.Tensor) -> None:
        view = self.view(self.param, i)
        view.copy_(p.detach())
        p.data = view

    def _adopt_grad(self, i: int, p: torch.Tensor) -> None:
        view = self.view(self.grad, i)
        if p.grad is None:
            view.zero_()
        else:
            view.copy_(p.grad)
        p.grad = view

    def sync(self, describe: Callable[[torch.Tensor], str]) -> None:
        """Bring back into the buffers what was replaced since the last step; a parameter moved
        to another device or dtype is an error (its state lives here)."""
        for i, p in enumerate(self.params):
            if p.data_ptr() != self.param_ptrs[i]:
                if p.device != self.device or p.dtype != self.dtype:
                    raise RuntimeError(f"{describe(p)} moved away from {self.device} "
                                       f"{str(self.dtype).removeprefix('torch.')}, where its flat optimizer state lives; "
                                       "move the parameters before building the optimizer, or build it again")
                self._adopt_param(i, p)
                self.param_ptrs[i] = p.data_ptr()
            grad = p.grad
            if grad is None or grad.data_ptr() != self.grad_ptrs[i]:
                self._adopt_grad(i, p)
                self.grad_ptrs[i] = p.grad.data_ptr()

    def chunks(self, size: int) -> List[slice]:
        """Slices of at most ``size`` values covering the buffers (cache-sized pieces on the CPU)."""
        return [slice(start, min(start + size, self.numel)) for start in range(0, self.numel, size)]


def build_buckets(params: Sequence[torch.Tensor], state_names: Sequence[str],
                  state: Dict[torch.Tensor, Dict[str, Any]]) -> List[FlatBucket]:
    """One bucket per (device, dtype) among ``params``, in order of first appearance."""
    groups: Dict[tuple, List[torch.Tensor]] = {}
    for p in params:
        groups.setdefault((p.device, p.dtype), []).append(p)
    return [FlatBucket(ps, state_names, state) for ps in groups.values()]
