"""The search space of bounded numbers and choices, shared by RandomSearch, OptunaSearch and
LLMWarmStartSearch: where an integer may go, and a uniform draw from a parameter's range."""
from __future__ import annotations

import math
import random
from typing import Any, Dict, Tuple

from ...graph import Parameter


def int_range(param: Parameter) -> Tuple[int, int]:
    """The integers an integer parameter may take (its bounds rounded inward)."""
    low, high = math.ceil(param.bounds[0]), math.floor(param.bounds[1])
    if low > high:
        raise ValueError(f"integer parameter {param.name!r} has no integer within its bounds {param.bounds}")
    return low, high


def random_value(param: Parameter, rng: random.Random) -> Any:
    """A value drawn uniformly from the parameter's bounds or choices."""
    if param.kind == "categorical":
        return param.choices[rng.randrange(len(param.choices))]
    if param.spec.integer:
        return rng.randint(*int_range(param))
    return rng.uniform(*param.bounds)


def check_setting(owner: str, setting: Dict[Parameter, Any], known: Any) -> Dict[Parameter, Any]:
    """Each value of a setting (parameter -> value) as its parameter would store it; ValueError
    naming the parameter when it is not among ``known`` or its value is invalid."""
    checked = {}
    for param, value in setting.items():
        if param not in known:
            raise ValueError(f"{owner}: {getattr(param, 'name', param)!r} is not one of its parameters")
        try:
            checked[param] = param.validate(value)
        except ValueError as exc:
            raise ValueError(f"{owner}: bad value for {param.name!r}: {exc}") from None
    return checked
