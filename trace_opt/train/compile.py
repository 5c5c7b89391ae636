"""``compile``: train a copy of an agent and hand it back, the original left as it was (DSPy's
``optimizer.compile(student, trainset=, valset=)``, over the Trainer)."""
from __future__ import annotations

import copy
import inspect
from typing import Any, Callable, Optional, Sequence, Union

from ..graph import Module
from ..optim.base import Optimizer
from .trainer import Trainer

OptimizerSpec = Union[None, type, Callable[[list], Any]]


def compile(agent: Module, trainset: Sequence[Any], valset: Optional[Sequence[Any]] = None, guide: Any = None, *,
            optimizer: OptimizerSpec = None, llm: Any = None, **trainer_options: Any) -> Module:
    """A trained deep copy of ``agent``. Rows are (input, target) pairs or ``to.Example`` rows with
    their inputs marked; ``guide`` is an ``(output, target)`` guide or a DSPy-style metric
    ``(gold, pred, trace=None)`` returning a score or (score, feedback). ``optimizer`` is built on
    the copy's parameters: None picks one per parameter kind (``to.optim.auto``), an optimizer class
    is called with the parameters (and ``llm=`` when it takes one), any other callable gets the
    parameter list. ``trainer_options`` go to the Trainer (batch_size, epochs, checkpoint_dir,
    sinks, ...); the run's ``TrainResult`` is on the copy as ``train_result``. The copy shares the
    original's LLM clients (and so their usage and cache)."""
    if not isinstance(agent, Module):
        raise TypeError(f"compile needs a trace_opt Module as agent, got {type(agent).__name__}")
    if guide is None:
        raise TypeError("compile needs a guide: a function (output, target) -> feedback, a metric "
                        "(gold, pred, trace=None) -> score, or a Guide")
    if not trainset:
        raise ValueError("compile needs a non-empty trainset")
    student = copy.deepcopy(agent)
    trainer = Trainer(student, _build(optimizer, student.parameters(), llm), trainset, valset, guide,
                      **trainer_options)
    student.train_result = trainer.fit()
    return student


def _build(optimizer: OptimizerSpec, params: list, llm: Any) -> Any:
    if optimizer is None:
        from ..optim.composite import auto

        return auto(params, llm=llm)
    if isinstance(optimizer, Optimizer) or hasattr(optimizer, "step") and not isinstance(optimizer, type):
        raise TypeError("compile builds the optimizer on the copy's parameters: pass its class "
                        "(optimizer=to.optim.OptoPrime) or a function params -> optimizer, not an optimizer "
                        "built on the original agent")
    if isinstance(optimizer, type):
        takes_llm = "llm" in inspect.signature(optimizer).parameters
        return optimizer(params, llm=llm) if takes_llm and llm is not None else optimizer(params)
    if callable(optimizer):
        return optimizer(params)
    raise TypeError(f"optimizer must be None, an optimizer class or a function params -> optimizer, "
                    f"got {type(optimizer).__name__}")
