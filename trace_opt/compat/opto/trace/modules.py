"""Trace's ``Module`` and ``@model``: trace_opt's Module, with Trace's ``parameters_dict``."""
from __future__ import annotations

from typing import Any, Dict

from ....graph.module import Module as _Module
from ....graph.nodes import Parameter
from .containers import NodeContainer


class Module(_Module):
    """trace_opt's Module; ``parameters_dict()`` is ``dict(named_parameters())``."""

    def parameters_dict(self) -> Dict[str, Parameter]:
        return dict(self.named_parameters())


def model(cls: type) -> type:
    """Trace's class decorator: the class, made a Module (parameters, save, load)."""
    if not isinstance(cls, type):
        raise TypeError(f"@model decorates a class, got {type(cls).__name__}")
    made = type(cls.__name__, (cls, Module), {"__module__": cls.__module__, "__doc__": cls.__doc__})
    made.__qualname__ = cls.__qualname__
    return made


def apply_op(op: Any, output: Any, *args: Any, **kwargs: Any) -> Any:
    from .broadcast import apply_op as broadcast

    return broadcast(op, output, *args, **kwargs)


__all__ = ["Module", "NodeContainer", "apply_op", "model"]
