"""One optimizer over many: a workflow's prompts, tensors, settings and choices trained together.

``CompositeOptimizer`` puts several optimizers behind one ``zero_feedback()`` / ``step()`` /
``state_dict()``. ``auto(params, llm=...)`` builds one by routing each parameter by kind:

    text, code, json           -> OptoPrime (the LLM optimizer; llm=None lets it pick its default)
    number without bounds      -> OptoPrime too (search needs a range to search)
    tensor                     -> Adam (gradients from torch autograd)
    number with bounds         -> SPSA (derivative-free, from Feedback.score)
    demos (to.Demos)           -> BootstrapFewShot (from well-scored traces; demos={"trainset": rows})
    categorical (choices, bool)-> ChoiceSearch (derivative-free, from Feedback.score); with
                                  numbers in the loop too, it holds each candidate for SPSA's
                                  +/- pair, so each search sees the other's changes cancel

The search routes need a score in the feedback; the LLM route reads its text; the tensor route
needs a backward through a scalar tensor (``loss.backward()``).
"""
from __future__ import annotations

import sys
from importlib import import_module
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

from ..graph import Parameter
from ..graph.kinds import is_tensor
from .base import Optimizer, satisfies_contract, takes_evaluate
from .report import StepReport

__all__ = ["CompositeOptimizer", "auto"]

ROUTES = ("text", "tensor", "number", "choice", "demos")


class TorchOptimizer:
    """A plain ``torch.optim`` optimizer (not one of ours) seen through the optimizer contract:
    its tensors are its parameters, ``zero_feedback`` zeroes their gradients."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = type(inner).__name__

    def parameters(self) -> List[Any]:
        return [p for group in self.inner.param_groups for p in group["params"]]

    def zero_feedback(self) -> None:
        self.inner.zero_grad()

    def step(self) -> StepReport:
        self.inner.step()
        return StepReport(optimizer=self.name)

    def state_dict(self) -> Dict[str, Any]:
        return self.inner.state_dict()

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        self.inner.load_state_dict(state_dict)


Optimizer.register(TorchOptimizer)


def as_optimizer(candidate: Any, who: str = "CompositeOptimizer") -> Any:
    """An optimizer of the contract: ours as it is, a plain torch.optim one adapted, else an error."""
    if satisfies_contract(candidate):
        return candidate
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(candidate, torch.optim.Optimizer):
        return TorchOptimizer(candidate)
    raise TypeError(f"{who} takes trace_opt optimizers (to.optim.Optimizer: parameters, zero_feedback, "
                    f"step, state_dict, load_state_dict) or torch.optim ones, got {type(candidate).__name__}")


def _name(optimizer: Any) -> str:
    return optimizer.name if isinstance(optimizer, TorchOptimizer) else type(optimizer).__name__


class CompositeOptimizer:
    """Several optimizers as one; each parameter belongs to exactly one of them."""

    def __init__(self, optimizers: Sequence[Any], routes: Optional[Dict[str, Any]] = None) -> None:
        if isinstance(optimizers, Optimizer):
            raise TypeError("CompositeOptimizer takes a list of optimizers, got a single optimizer: wrap it in a list")
        optimizers = list(optimizers)
        if not optimizers:
            raise ValueError("CompositeOptimizer needs a non-empty list of optimizers")
        owner: Dict[int, Any] = {}
        optimizers = [as_optimizer(optimizer) for optimizer in optimizers]
        for optimizer in optimizers:
            for member in optimizer.parameters():
                other = owner.setdefault(id(member), optimizer)
                if other is not optimizer:
                    label = (f"parameter {member.name!r}" if isinstance(member, Parameter)
                             else f"a tensor of shape {list(member.shape)}")
                    raise ValueError(f"CompositeOptimizer: {label} is updated by both {_name(other)} "
                                     f"and {_name(optimizer)}; give each parameter to one optimizer")
        self.optimizers = optimizers
        self.routes = dict(routes or {})

    def parameters(self) -> List[Any]:
        return [m for optimizer in self.optimizers for m in optimizer.parameters()]

    def zero_feedback(self) -> None:
        """Empty every parameter's feedback (and zero the gradients): before the next backward."""
        for optimizer in self.optimizers:
            optimizer.zero_feedback()

    def step(self, evaluate: Optional[Callable[[], float]] = None) -> StepReport:
        """Each optimizer's step, in the order given (``evaluate`` goes to those that score their
        candidates); one report holding theirs as its parts."""
        reports = []
        for optimizer in self.optimizers:
            report = optimizer.step(evaluate=evaluate) if evaluate is not None and takes_evaluate(optimizer) \
                else optimizer.step()
            reports.append(StepReport.of(report, _name(optimizer)))
        return StepReport.merged(reports, type(self).__name__)

    def state_dict(self) -> Dict[str, Any]:
        return {"optimizers": [optimizer.state_dict() for optimizer in self.optimizers],
                "types": [_name(optimizer) for optimizer in self.optimizers]}

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        saved = state_dict.get("optimizers") if isinstance(state_dict, dict) else None
        types = [_name(optimizer) for optimizer in self.optimizers]
        if saved is None or len(saved) != len(self.optimizers) or state_dict.get("types", types) != types:
            raise ValueError(f"state_dict does not match this CompositeOptimizer ({types}); "
                             f"it holds {state_dict.get('types') if isinstance(state_dict, dict) else type(state_dict).__name__}")
        for optimizer, state in zip(self.optimizers, saved):
            optimizer.load_state_dict(state)

    def __repr__(self) -> str:
        inner = ", ".join(f"{route}={_name(opt)}" for route, opt in self.routes.items()) or \
            ", ".join(_name(opt) for opt in self.optimizers)
        return f"CompositeOptimizer({inner})"


def route_of(param: Any) -> Optional[str]:
    """Which route a parameter takes (None for a frozen Parameter)."""
    if is_tensor(param):
        return "tensor"
    if not isinstance(param, Parameter):
        raise TypeError(f"auto() routes trace_opt Parameters and torch tensors, got {type(param).__name__}")
    if not param.trainable:
        return None
    if param.kind == "tensor":
        return "tensor"
    if param.kind == "categorical":
        return "choice"
    if param.kind == "demos":
        return "demos"
    if param.kind == "number":
        bounds = param.bounds
        return "number" if bounds is not None and None not in bounds else "text"
    return "text"


def auto(params: Iterable[Any], llm: Any = None, *, text: Optional[Dict[str, Any]] = None,
         tensor: Optional[Dict[str, Any]] = None, number: Optional[Dict[str, Any]] = None,
         choice: Optional[Dict[str, Any]] = None, demos: Optional[Dict[str, Any]] = None,
         seed: Optional[int] = None) -> CompositeOptimizer:
    """A CompositeOptimizer that routes each parameter by kind (see the module docstring).

    ``text``, ``tensor``, ``number``, ``choice``: keyword options for that route's optimizer
    (``tensor={"lr": 1e-2}``); ``seed`` seeds the search routes. The LLM optimizer is imported
    only when there is a text, code or json parameter.
    """
    if isinstance(params, Parameter) or is_tensor(params):
        raise TypeError("auto() takes a list of parameters (e.g. module.parameters()), got a single parameter")
    routed: Dict[str, List[Any]] = {route: [] for route in ROUTES}
    for param in params:
        route = route_of(param)
        if route is not None:
            routed[route].append(param)
    if not any(routed.values()):
        raise ValueError("auto() found no trainable parameter")
    options = {"text": text, "tensor": tensor, "number": number, "choice": choice, "demos": demos}
    for route, value in options.items():
        if value is not None and not isinstance(value, dict):
            raise TypeError(f"auto(): {route}= takes a dict of options for that route's optimizer, got {type(value).__name__}")
    built: Dict[str, Any] = {}
    if routed["tensor"]:
        from .numeric.torch_optimizers import Adam

        built["tensor"] = Adam(routed["tensor"], **(tensor or {}))
    if routed["number"]:
        from .search.spsa import SPSA

        built["number"] = SPSA(routed["number"], **{"seed": seed, **(number or {})})
    if routed["choice"]:
        from .search.choice_search import ChoiceSearch

        repeats = 2 if routed["number"] else 1
        built["choice"] = ChoiceSearch(routed["choice"], **{"repeats": repeats, "seed": seed, **(choice or {})})
    if routed["demos"]:
        from .search.few_shot import BootstrapFewShot

        built["demos"] = BootstrapFewShot(routed["demos"], **{"seed": seed, **(demos or {})})
    if routed["text"]:
        optoprime = import_module(".llm.optoprime", __package__).OptoPrime
        built["text"] = optoprime(routed["text"], llm=llm, **(text or {}))
    return CompositeOptimizer(list(built.values()), routes=built)


Optimizer.register(CompositeOptimizer)  # it satisfies the one optimizer contract
