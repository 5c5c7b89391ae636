"""Trace's ``Module`` and ``@model``: trace_opt's Module, with Trace's ``parameters_dict``."""
from __future__ import annotations

from typing import Any, Dict

from ....graph.module import Module as _Module
from .containers import NodeContainer


class Module(_Module):
    """trace_opt's Module with Trace's ``parameters_dict()``: name -> parameter, and a module held
    in an attribute as one entry (Trace lists it as a container of parameters)."""

    def parameters_dict(self) -> Dict[str, Any]:
        found: Dict[str, Any] = {}
        for name, param in self.named_parameters():
            head = name.split(".", 1)[0]
            held = vars(self).get(head)
            if isinstance(held, _Module) and "." in name:
                found[head] = held
            else:
                found[name] = param
        return found


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
