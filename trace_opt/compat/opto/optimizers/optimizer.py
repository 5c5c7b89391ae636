"""Trace's optimizer shape over trace_opt's one contract.

``Optimizer(parameters, *args, propagator=None, **kwargs)``; a custom optimizer written for Trace
implements ``_step()`` returning ``{parameter: new value}``, and ``step()`` applies it through each
parameter's validation (a bad value is reported, not applied). ``optimizer.parameters`` is both
Trace's list and trace_opt's method; ``backward(node, feedback)`` and ``log`` are Trace's.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List

from ....graph.nodes import Node, Parameter
from ....optim.base import Optimizer as _Optimizer
from ....optim.report import StepReport


class ParameterList(list):
    """A list of parameters that can also be called (``opt.parameters()``, as trace_opt's contract has it)."""

    def __call__(self) -> List[Parameter]:
        return list(self)


class TraceShape:
    """What Trace's optimizers offer beside trace_opt's contract."""

    log: List[Dict[str, Any]]

    @property
    def parameters(self) -> ParameterList:  # type: ignore[override]
        return ParameterList(p for group in self.param_groups for p in group["params"])

    @property
    def propagator(self) -> Any:
        from ..trace.propagators import GraphPropagator

        return getattr(self, "_propagator", None) or GraphPropagator()

    def backward(self, node: Node, feedback: Any = None, visualize: bool = False, **options: Any) -> Any:
        """``node.backward(feedback)`` with this optimizer's propagator (Trace's spelling)."""
        return node.backward(feedback, propagator=self.propagator, visualize=visualize)

    def remember(self, report: StepReport, verbose: Any) -> StepReport:
        entry = {"optimizer": report.optimizer, "skipped": report.skipped,
                 "updated": {k: _jsonable(v) for k, v in report.updated.items()},
                 "proposals": [{"name": p.name, "value": _jsonable(p.value), "accepted": p.accepted,
                                "reason": p.reason} for p in report.proposals]}
        self.log.append(entry)
        if verbose:
            print(json.dumps(entry, indent=2, default=str))
        return report


class Optimizer(TraceShape, _Optimizer):
    """Base for optimizers written Trace's way: implement ``_step(*args, **kwargs) -> {param: value}``."""

    def __init__(self, parameters: Any, *args: Any, propagator: Any = None, **kwargs: Any) -> None:
        _Optimizer.__init__(self, list(parameters), {})
        self._propagator = propagator
        self.log: List[Dict[str, Any]] = []

    def _step(self, *args: Any, **kwargs: Any) -> Dict[Parameter, Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement _step() -> {{parameter: new value}}")

    def step(self, *args: Any, bypassing: bool = False, verbose: Any = False, **kwargs: Any) -> StepReport:
        update = self._step(*args, **kwargs)
        report = StepReport(optimizer=type(self).__name__)
        for param, value in (update or {}).items():
            if not bypassing and param.trainable:
                try:
                    param.data = value
                except ValueError as exc:  # reported, as trace_opt's optimizers do; the value is kept
                    report.notes.append(f"{param.name}: not applied: {exc}")
                    continue
                report.updated[param.name] = param.data
        if not update:
            report.skipped = "_step() proposed no change"
        return self.remember(report, verbose)

    def update(self, update_dict: Dict[Parameter, Any]) -> None:
        for param, value in update_dict.items():
            if param.trainable:
                param.data = value


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)


__all__ = ["Optimizer", "ParameterList"]
