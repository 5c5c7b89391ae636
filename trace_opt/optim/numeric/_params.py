"""What the numeric optimizers add to ``torch.optim.Optimizer``: trace_opt tensor Parameters
accepted beside plain tensors, clear errors for parameters they cannot update, ``zero_feedback()``
and the non-finite gradient policy.

Non-finite gradients: when any gradient holds NaN or Inf, ``step()`` changes nothing (no
parameter, no optimizer state, no step count) and warns with :class:`NonFiniteGradientWarning`
naming the tensors, the way ``torch.amp.GradScaler`` skips a step. One bad batch does not end
a long run, and the warning says where to look. The check reads each gradient once (a sum per
tensor on the CPU, one fused norm per device and dtype elsewhere, then one host sync).
"""
from __future__ import annotations

import math
import os
import sys
import warnings
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

import torch

from ...graph import Parameter
from ..base import Optimizer
from ..report import StepReport

_INTERNAL = (os.path.dirname(torch.__file__), os.path.dirname(os.path.dirname(os.path.dirname(__file__))))


class NonFiniteGradientWarning(RuntimeWarning):
    """A step was skipped because a gradient held NaN or Inf."""


def _unwrap(item: Any, owner: str) -> tuple:
    """(tensor, trace Parameter or None) for a list item: a tensor, a trace Parameter, or (name, either)."""
    if isinstance(item, Parameter):
        if item.kind != "tensor":
            raise TypeError(f"{owner} optimizes tensors; parameter {item.name!r} is {item.kind} "
                            "(text and code go to an LLM optimizer, numbers and choices to search: see trace_opt.optim.auto)")
        return item.data, item
    if isinstance(item, torch.Tensor):
        return item, None
    raise TypeError(f"{owner} optimizes torch tensors or trace_opt tensor Parameters, got {type(item).__name__}")


def tensors_of(params: Any) -> List[torch.Tensor]:
    """The tensors in a params argument (list of tensors/Parameters, or of groups), unvalidated."""
    found = []
    for item in params:
        items = item["params"] if isinstance(item, dict) else [item]
        if isinstance(items, (torch.Tensor, Parameter)):
            items = [items]
        for one in items:
            one = one[1] if isinstance(one, tuple) else one
            one = one.data if isinstance(one, Parameter) else one
            if isinstance(one, torch.Tensor):
                found.append(one)
    return found


def as_param_list(params: Any, owner: str) -> list:
    """The params argument as a list, with torch's checks but an error that names the mistake."""
    if isinstance(params, (torch.Tensor, Parameter)):
        raise TypeError(f"{owner} takes a list of parameters (or of parameter groups), got a single "
                        f"{type(params).__name__}: wrap it in a list")
    if isinstance(params, (set, frozenset)):
        raise TypeError(f"{owner} takes an ordered list of parameters, got a set (its order changes between runs)")
    params = [_listed_group(item, owner) if isinstance(item, dict) else item for item in params]
    if not params:
        raise ValueError(f"{owner} got an empty parameter list")
    return params


def _listed_group(group: Dict[str, Any], owner: str) -> Dict[str, Any]:
    """A copy of a parameter group whose 'params' is a list (a generator would be read once)."""
    if "params" not in group:
        raise TypeError(f"{owner}: a parameter group is a dict with a 'params' list")
    items = group["params"]
    if isinstance(items, (torch.Tensor, Parameter)):
        return dict(group)
    if isinstance(items, (set, frozenset)):
        raise TypeError(f"{owner} takes an ordered list of parameters, got a set (its order changes between runs)")
    return {**group, "params": list(items)}


def outside_stacklevel() -> int:
    """The ``stacklevel`` that points a warning, issued by the caller, at the first frame outside
    torch and trace_opt (the user's line), however many wrappers lie between."""
    level, frame = 1, sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_INTERNAL):
        frame, level = frame.f_back, level + 1
    return level


def describe(tensor: torch.Tensor, name: Optional[str] = None, what: Optional[str] = None) -> str:
    """'parameter 'w' (shape [3], cpu float32)': how errors refer to a tensor."""
    what = what or (f"parameter {name!r}" if name else "a tensor")
    return f"{what} (shape {list(tensor.shape)}, {tensor.device} {str(tensor.dtype).removeprefix('torch.')})"


class TensorParams:
    """Mixin placed before ``torch.optim.Optimizer`` (or a subclass) in a class's bases.

    ``check_finite`` (True unless a constructor was given ``check_finite=False``): check the
    gradients before each step (one read of them; turn it off only where a NaN cannot occur
    or is handled elsewhere, e.g. by ``torch.amp.GradScaler``).
    """

    check_finite = True

    # -- parameters --------------------------------------------------------------------
    def add_param_group(self, param_group: Dict[str, Any]) -> None:
        """torch's add_param_group, taking trace_opt tensor Parameters and naming bad input."""
        if not isinstance(param_group, dict) or "params" not in param_group:
            raise TypeError("a parameter group is a dict with a 'params' list")
        owner = type(self).__name__
        group = dict(param_group)
        raw = group["params"]
        items = [raw] if isinstance(raw, (torch.Tensor, Parameter)) else as_param_list(raw, owner)
        registry = self.__dict__.setdefault("_trace_params", {})
        taken = {p for g in self.param_groups for p in g["params"]}
        unwrapped, adopted, seen = [], [], set()
        for item in items:
            name, value = item if isinstance(item, tuple) else (None, item)
            tensor, trace_param = _unwrap(value, owner)
            if trace_param is None and name is None and tensor in taken:
                label = self.name_of(tensor)  # the name it was first given
            else:
                label = describe(tensor, trace_param.name if trace_param is not None else name)
            if not (tensor.is_leaf or tensor.retains_grad) and not self.defaults.get("differentiable"):
                raise ValueError(f"{owner}: {label} is not a leaf tensor (it was computed by "
                                 f"{type(tensor.grad_fn).__name__}), so an update would be lost on the next forward; "
                                 "optimize the tensor it came from, or make it a leaf with .detach().requires_grad_()")
            if tensor in taken:
                raise ValueError(f"{owner}: {label} appears in more than one parameter group")
            if tensor in seen:
                raise ValueError(f"{owner}: {label} appears twice in one parameter group")
            seen.add(tensor)
            unwrapped.append((name, tensor) if isinstance(item, tuple) else tensor)
            if trace_param is not None:
                adopted.append((tensor, trace_param))
        group["params"] = unwrapped
        self._add_checked_group(group)
        registry.update(adopted)

    def _add_checked_group(self, group: Dict[str, Any]) -> None:
        """Hand a validated group of plain tensors to torch (overridden to split groups)."""
        super().add_param_group(group)  # type: ignore[misc]

    def trace_parameters(self) -> List[Parameter]:
        """The trace_opt Parameters this optimizer updates (plain tensors have none)."""
        return list(self.__dict__.get("_trace_params", {}).values())

    def parameters(self) -> List[Any]:
        """What this optimizer updates: each tensor's trace_opt Parameter, or the tensor itself."""
        registry = self.__dict__.get("_trace_params", {})
        return [registry.get(t, t) for group in self.param_groups  # type: ignore[attr-defined]
                for t in (p[1] if isinstance(p, tuple) else p for p in group["params"])]

    def zero_feedback(self, set_to_none: bool = True) -> None:
        """Zero the gradients and empty the trace_opt Parameters' feedback: call before the next backward."""
        self.zero_grad(set_to_none=set_to_none)  # type: ignore[attr-defined]
        for param in self.trace_parameters():
            param.zero_feedback()

    def name_of(self, tensor: torch.Tensor) -> str:
        """How errors refer to a tensor: its trace_opt name, else its place in the groups."""
        trace_param = self.__dict__.get("_trace_params", {}).get(tensor)
        if trace_param is not None:
            return describe(tensor, trace_param.name)
        for g, group in enumerate(self.param_groups):  # type: ignore[attr-defined]
            for i, p in enumerate(group["params"]):
                if p is tensor:
                    return describe(tensor, what=f"tensor #{i} of group {g}")
        return describe(tensor)

    # -- checks before a step ----------------------------------------------------------
    def _begin_step(self, closure: Optional[Callable[[], Any]]) -> Any:
        """Run the closure (gradients on) and check that no trace Parameter was given a new tensor."""
        for tensor, trace_param in self.__dict__.get("_trace_params", {}).items():
            if trace_param._data is not tensor:
                raise RuntimeError(f"{type(self).__name__}: parameter {trace_param.name!r} was given a new tensor after the "
                                   "optimizer was built, which still holds the old one; assign in place "
                                   "(param.data.copy_(new), as Module.load() does) or build the optimizer again")
        if closure is None:
            return None
        with torch.enable_grad():
            return closure()

    def _grads_finite(self, params: Sequence[torch.Tensor], grads: Sequence[torch.Tensor],
                      quick: Optional[Sequence[torch.Tensor]] = None, action: str = "step()") -> bool:
        """False (with a warning naming the tensors) when any gradient holds NaN or Inf.
        ``quick``: tensors holding the same values for the first check (flat gradient buffers)."""
        if not self.check_finite or all_finite(grads if quick is None else quick):
            return True
        bad = [self.name_of(p) for p, g in zip(params, grads) if not bool(torch.isfinite(g).all())]
        if not bad:  # the quick check overflowed on large but finite gradients
            return True
        warnings.warn(f"{type(self).__name__}.{action} skipped: non-finite values (NaN or Inf) in {', '.join(bad)}; "
                      "parameters and optimizer state are unchanged", NonFiniteGradientWarning,
                      stacklevel=outside_stacklevel())
        return False

    def _outcome(self, loss: Any, closure: Optional[Callable[[], Any]], skipped: bool) -> Any:
        """What step() returns: a torch caller that passed a closure gets its loss, as from torch;
        the optimizer contract's ``step()`` gets a StepReport (the skip, the loss if any)."""
        if closure is not None:
            return loss
        reason = "a gradient held NaN or Inf: parameters and state unchanged" if skipped else None
        return StepReport(skipped=reason, optimizer=type(self).__name__)

    def _state_misplaced(self) -> Optional[str]:
        """A message naming the first parameter whose state lives on another device or dtype, else None."""
        for group in self.param_groups:  # type: ignore[attr-defined]
            for p in group["params"]:
                for key, value in self.state.get(p, {}).items():  # type: ignore[attr-defined]
                    if key == "step" or not isinstance(value, torch.Tensor):
                        continue
                    if value.device != p.device or (value.is_floating_point() and value.dtype != p.dtype):
                        return (f"{type(self).__name__}: the optimizer state {key!r} of {self.name_of(p)} is on "
                                f"{value.device} {str(value.dtype).removeprefix('torch.')}; move the parameters first, "
                                "then build the optimizer or call load_state_dict() (it moves the state to each "
                                "parameter's device and dtype)")
        return None


def all_finite(grads: Iterable[torch.Tensor]) -> bool:
    """Whether every gradient is finite: one read of each (may say False for huge finite values;
    the caller confirms offenders exactly). On the CPU, small gradients are summed concatenated
    in pieces: one call per piece instead of one per tensor."""
    large, small, elsewhere = [], {}, {}
    for g in grads:
        if not g.is_cpu:
            elsewhere.setdefault((g.device, g.dtype), []).append(g)
        elif g.numel() < SMALL_GRADIENT:
            small.setdefault(g.dtype, []).append(g if g.dim() == 1 else g.reshape(-1))
        else:
            large.append(g)
    total = sum(_sum(g) for g in large)
    for group in small.values():
        for start in range(0, len(group), CAT_TENSORS):
            total += _sum(torch.cat(group[start:start + CAT_TENSORS]))
    if not math.isfinite(total):
        return False
    sums = [torch.stack(torch._foreach_norm(gs, 1)).sum(dtype=torch.float32) for gs in elsewhere.values()]
    by_device: Dict[torch.device, list] = {}
    for s in sums:
        by_device.setdefault(s.device, []).append(s)
    return all(bool(torch.stack(ss).isfinite().all()) for ss in by_device.values())


SMALL_GRADIENT = 1 << 15  # values: below this, a call per tensor costs more than reading it
CAT_TENSORS = 64  # small gradients concatenated per piece: at most 2 M values of temporary


def _sum(g: torch.Tensor) -> float:
    return float(g.sum(dtype=torch.float32) if g.element_size() < 4 else g.sum())


Optimizer.register(TensorParams)  # the numeric optimizers satisfy the one optimizer contract
