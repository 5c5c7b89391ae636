"""One optimizer over many: a workflow's prompts, tensors, settings and choices trained together.

``CompositeOptimizer`` puts several optimizers behind one ``zero_feedback()`` / ``step()`` /
``state_dict()``. ``auto(params, llm=...)`` builds one by routing each parameter by kind:

    text, code, json           -> OptoPrime (the LLM optimizer; llm=None lets it pick its default)
    number without bounds      -> OptoPrime too (search needs a range to search)
    tensor                     -> Adam (gradients from torch autograd)
    number with bounds         -> SPSA (derivative-free, from Feedback.score)
    categorical (choices, bool)-> ChoiceSearch (derivative-free, from Feedback.score); with
                                  numbers in the loop too, it holds each candidate for SPSA's
                                  +/- pair, so each search sees the other's changes cancel

The search routes need a score in the feedback; the LLM route reads its text; the tensor route
needs a backward through a scalar tensor (``loss.backward()``).
"""
from __future__ import annotations

from importlib import import_module
from typing import Any, Dict, Iterable, List, Optional, Sequence

from ..graph import Parameter
from ..graph.kinds import is_tensor

__all__ = ["CompositeOptimizer", "auto"]

ROUTES = ("text", "tensor", "number", "choice")


def _members(optimizer: Any) -> List[Any]:
    """What an optimizer updates: trace_opt Parameters, and the tensors of a torch optimizer."""
    members: List[Any] = []
    if hasattr(optimizer, "trace_parameters"):
        members += optimizer.trace_parameters()
    if hasattr(optimizer, "parameters") and not hasattr(optimizer, "zero_grad"):
        members += list(optimizer.parameters())
    for group in getattr(optimizer, "param_groups", []) if hasattr(optimizer, "zero_grad") else []:
        members += [p[1] if isinstance(p, tuple) else p for p in group["params"]]
    return members


class CompositeOptimizer:
    """Several optimizers as one; each parameter belongs to exactly one of them."""

    def __init__(self, optimizers: Sequence[Any], routes: Optional[Dict[str, Any]] = None) -> None:
        if hasattr(optimizers, "step"):
            raise TypeError("CompositeOptimizer takes a list of optimizers, got a single optimizer: wrap it in a list")
        optimizers = list(optimizers)
        if not optimizers:
            raise ValueError("CompositeOptimizer needs a non-empty list of optimizers")
        owner: Dict[int, Any] = {}
        for optimizer in optimizers:
            if not callable(getattr(optimizer, "step", None)):
                raise TypeError(f"CompositeOptimizer takes optimizers (with step()), got {type(optimizer).__name__}")
            for member in _members(optimizer):
                other = owner.setdefault(id(member), optimizer)
                if other is not optimizer:
                    label = (f"parameter {member.name!r}" if isinstance(member, Parameter)
                             else f"a tensor of shape {list(member.shape)}")
                    raise ValueError(f"CompositeOptimizer: {label} is updated by both {type(other).__name__} "
                                     f"and {type(optimizer).__name__}; give each parameter to one optimizer")
        self.optimizers = optimizers
        self.routes = dict(routes or {})

    def parameters(self) -> List[Any]:
        return [m for optimizer in self.optimizers for m in _members(optimizer)]

    def zero_feedback(self) -> None:
        """Empty every parameter's feedback (and zero the gradients): before the next backward."""
        for optimizer in self.optimizers:
            if hasattr(optimizer, "zero_feedback"):
                optimizer.zero_feedback()
            else:
                optimizer.zero_grad()

    def step(self) -> List[Any]:
        """Each optimizer's step, in the order given; returns what each returned (an LLM
        optimizer's report, a search's score, ...)."""
        return [optimizer.step() for optimizer in self.optimizers]

    def state_dict(self) -> Dict[str, Any]:
        return {"optimizers": [optimizer.state_dict() for optimizer in self.optimizers],
                "types": [type(optimizer).__name__ for optimizer in self.optimizers]}

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        saved = state_dict.get("optimizers") if isinstance(state_dict, dict) else None
        types = [type(optimizer).__name__ for optimizer in self.optimizers]
        if saved is None or len(saved) != len(self.optimizers) or state_dict.get("types", types) != types:
            raise ValueError(f"state_dict does not match this CompositeOptimizer ({types}); "
                             f"it holds {state_dict.get('types') if isinstance(state_dict, dict) else type(state_dict).__name__}")
        for optimizer, state in zip(self.optimizers, saved):
            optimizer.load_state_dict(state)

    def __repr__(self) -> str:
        inner = ", ".join(f"{route}={type(opt).__name__}" for route, opt in self.routes.items()) or \
            ", ".join(type(opt).__name__ for opt in self.optimizers)
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
    if param.kind == "number":
        bounds = param.bounds
        return "number" if bounds is not None and None not in bounds else "text"
    return "text"


def auto(params: Iterable[Any], llm: Any = None, *, text: Optional[Dict[str, Any]] = None,
         tensor: Optional[Dict[str, Any]] = None, number: Optional[Dict[str, Any]] = None,
         choice: Optional[Dict[str, Any]] = None, seed: Optional[int] = None) -> CompositeOptimizer:
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
    options = {"text": text, "tensor": tensor, "number": number, "choice": choice}
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
    if routed["text"]:
        optoprime = import_module(".llm.optoprime", __package__).OptoPrime
        built["text"] = optoprime(routed["text"], llm=llm, **(text or {}))
    return CompositeOptimizer(list(built.values()), routes=built)
