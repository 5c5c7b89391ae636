"""Optimizer: the one contract every optimizer satisfies, and the base of those over Parameters.

The contract, all a caller (the Trainer, a composite) may rely on:
    parameters()        what the optimizer updates
    zero_feedback()     forget the last step's feedback (and gradients): before the next backward
    step() -> StepReport  update; the report says what changed, what was proposed and why not, or
                        why nothing was done (the score or loss where there is one). Optimizers
                        that choose among candidates take ``step(evaluate=f)`` (``takes_evaluate``):
                        ``f()`` scores the current values, higher is better
    state_dict() / load_state_dict()   save and restore, positions not identities
LLM and search optimizers subclass ``Optimizer`` (parameter groups with per-group options, like
``torch.optim.Optimizer``); the numeric ones are torch.optim subclasses and the composite holds
other optimizers, so they are registered as ``Optimizer`` (``isinstance`` holds) and satisfy the
same five methods (numeric ``step(closure)`` still returns the closure's loss to torch callers).
"""
from __future__ import annotations

import copy
import inspect
from abc import ABCMeta
from typing import Any, Dict, Iterable, List, Optional

from ..graph import Parameter
from .report import StepReport

CONTRACT = ("parameters", "zero_feedback", "step", "state_dict", "load_state_dict")


def takes_evaluate(optimizer: Any) -> bool:
    """Whether ``optimizer.step`` scores its candidates on an ``evaluate`` function (LLM, demo and
    joint-search optimizers, and a composite holding one): the Trainer then hands it validation."""
    try:
        return "evaluate" in inspect.signature(optimizer.step).parameters
    except (TypeError, ValueError):
        return False


def satisfies_contract(optimizer: Any) -> bool:
    """Whether ``optimizer`` is an Optimizer with every method of the contract."""
    return isinstance(optimizer, Optimizer) and all(callable(getattr(optimizer, name, None)) for name in CONTRACT)


class Optimizer(metaclass=ABCMeta):
    """Holds parameter groups and per-parameter state; subclasses implement ``step()``."""

    def __init__(self, params: Iterable[Any], defaults: Optional[Dict[str, Any]] = None) -> None:
        self.defaults = dict(defaults or {})
        self.param_groups: List[Dict[str, Any]] = []
        self.state: Dict[Parameter, Dict[str, Any]] = {}
        if isinstance(params, (Parameter, dict)) or not isinstance(params, Iterable):
            raise TypeError(f"params must be a list of Parameters or of parameter groups (dicts), got {type(params).__name__}")
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: Dict[str, Any]) -> None:
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError("a parameter group is a dict with a 'params' list")
        params = group["params"]
        params = [params] if isinstance(params, Parameter) else list(params)
        taken = set(self.parameters())
        for param in params:
            self.check_parameter(param)
            if param in taken:
                raise ValueError(f"parameter {param.name!r} appears in more than one parameter group")
            taken.add(param)
        unknown = set(group) - set(self.defaults) - {"params"}
        if unknown:
            raise ValueError(f"{type(self).__name__} has no option(s) {sorted(unknown)}; known: {sorted(self.defaults)}")
        self.param_groups.append({**self.defaults, **group, "params": params})

    def check_parameter(self, param: Any) -> None:
        """Reject what this optimizer cannot update (overridden to narrow kinds)."""
        if not isinstance(param, Parameter):
            raise TypeError(f"{type(self).__name__} optimizes trace_opt Parameters, got {type(param).__name__}")

    def parameters(self) -> List[Parameter]:
        return [p for group in self.param_groups for p in group["params"]]

    def zero_feedback(self) -> None:
        """Forget the feedback of the last step (call before the next minibatch's backward)."""
        for param in self.parameters():
            param.zero_feedback()

    def step(self) -> StepReport:
        raise NotImplementedError

    def state_dict(self) -> Dict[str, Any]:
        index = {p: i for i, p in enumerate(self.parameters())}
        groups = [{**{k: v for k, v in g.items() if k != "params"}, "params": [index[p] for p in g["params"]]}
                  for g in self.param_groups]
        return {"state": {index[p]: copy.deepcopy(s) for p, s in self.state.items() if p in index},
                "param_groups": groups}

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        groups = state_dict.get("param_groups") if isinstance(state_dict, dict) else None
        if groups is None or len(groups) != len(self.param_groups):
            raise ValueError("state_dict has a different number of parameter groups than this optimizer")
        for saved, group in zip(groups, self.param_groups):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError("state_dict has a parameter group of a different size than this optimizer")
        params = self.parameters()
        for saved, group in zip(groups, self.param_groups):
            group.update({k: v for k, v in saved.items() if k != "params"})
        self.state = {params[int(i)]: copy.deepcopy(s) for i, s in state_dict.get("state", {}).items()}
