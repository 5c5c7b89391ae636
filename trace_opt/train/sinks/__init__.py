"""Run sinks: a Trainer's or a search's events sent on as they happen, beside events.jsonl.

``MLflowSink`` (the ``mlflow`` extra) and ``WandbSink`` (the ``wandb`` extra) load their library on
a run's first event, so importing trace_opt imports neither. Give them as ``sinks=[...]``.
"""
from importlib import import_module
from typing import Any

from .base import RunSink

_LAZY = {"MLflowSink": ".mlflow_run", "WandbSink": ".wandb_run"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'trace_opt.train.sinks' has no attribute {name!r}")


__all__ = ["RunSink", *_LAZY]
