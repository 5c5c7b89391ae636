"""What an LLM optimizer may answer, and how each suggested value is checked.

The reply schema is made per step from the variables: one optional field per variable, typed
by its kind (numbers as numbers, choices as an enum). A server that constrains output with
the schema (llama.cpp does) then cannot name an unknown variable or give a number as text;
with other servers, pydantic validation and the LLM layer's re-ask catch it. Every value is
then validated by the parameter itself (bounds, choices, code that parses and keeps its
signature) before anything changes.
"""
from __future__ import annotations

import ast
import json
import textwrap
from typing import Any, Dict, List, Literal, Optional, Tuple, Type

from pydantic import BaseModel, ConfigDict, Field, create_model

from ...graph import Parameter
from ..report import Proposal
from ...sandbox import bounded_json

MAX_JSON_BYTES = 1024 * 1024  # a json parameter's proposed value


# No <placeholders>: small models copy them into their answers.
REPLY_INSTRUCTIONS = (
    'Reply with a JSON object with two keys: "reasoning", a sentence on what should change and why, and '
    '"suggestion", an object with a new value for every variable (repeat the current value to keep one). '
    "A code variable is a complete Python function with the same name and parameters, or just its body."
)


def variable_keys(params: List[Parameter]) -> Dict[Parameter, str]:
    """A short unique key per parameter (its name, made unique), used in the prompt and the reply."""
    keys: Dict[Parameter, str] = {}
    used: set = set()
    for param in params:
        base = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in param.name) or "param"
        key, n = base, 2
        while key in used:
            key, n = f"{base}_{n}", n + 1
        used.add(key)
        keys[param] = key
    return keys


GRID_POINTS = 21  # values offered for a bounded number when the server constrains output


def _field_type(param: Parameter) -> Any:
    if param.kind == "number":
        return int if param.spec.integer else float
    if param.kind == "categorical" and all(isinstance(c, (str, int, bool)) for c in param.choices):
        return Literal[tuple(param.choices)]  # type: ignore[misc]
    return str


def _limits(param: Parameter, constrained: bool) -> Optional[Dict[str, Any]]:
    """Schema-only limits of a number (validation stays per value, so one bad number is rejected
    alone): a grid of values when the server constrains output, else minimum and maximum."""
    if param.kind != "number" or not param.bounds:
        return None
    low, high = param.bounds
    if constrained and low is not None and high is not None:
        return {"enum": number_grid(low, high, param.spec.integer)}
    return {k: v for k, v in (("minimum", low), ("maximum", high)) if v is not None} or None


def number_grid(low: float, high: float, integer: bool) -> List[float]:
    """Evenly spaced values from low to high (every integer when there are few)."""
    if integer and high - low + 1 <= GRID_POINTS:
        return list(range(int(low), int(high) + 1))
    values = [low + (high - low) * i / (GRID_POINTS - 1) for i in range(GRID_POINTS)]
    return sorted({int(round(v)) for v in values}) if integer else [round(v, 6) for v in values]


def suggestion_model(keys: Dict[Parameter, str], with_reasoning: bool = True,
                     constrained: bool = False) -> Type[BaseModel]:
    """The reply schema: ``{"reasoning": str, "suggestion": {key: value, ...}}``. With
    ``constrained`` (a server that turns the schema into a grammar, like llama.cpp), a bounded
    number is offered as a grid of values within its bounds, so the model cannot leave them."""
    fields: Dict[str, Tuple[Any, Any]] = {}
    for index, (param, key) in enumerate(keys.items()):
        # Not Optional: the schema offers no null, so a constrained model must write a value. Bounds are
        # stated in the schema only; an out-of-bounds value is rejected alone, not the whole reply.
        fields[f"v{index}"] = (_field_type(param), Field(default=None, alias=key,
                                                         json_schema_extra=_limits(param, constrained)))
    # The schema sent names every variable and no other key: a server that constrains output with it
    # (llama.cpp) then always answers with a value per variable. Validation stays lenient: a missing
    # key means no change, and an unknown key is reported, not fatal.
    closed = {"additionalProperties": False, "required": list(keys.values())}
    suggestion = create_model("Suggestion", __config__=ConfigDict(extra="allow", json_schema_extra=closed), **fields)
    top: Dict[str, Tuple[Any, Any]] = {"suggestion": (suggestion, ...)}
    if with_reasoning:
        top = {"reasoning": (str, Field(default="", description="why the values should change")), **top}
    return create_model("OptimizerReply", **top)


def suggested_values(reply: BaseModel) -> Tuple[Dict[str, Any], List[str]]:
    """(key -> value) for the variables the reply changes, and any unknown keys it named."""
    suggestion = reply.suggestion
    values = {}
    for name, info in type(suggestion).model_fields.items():
        value = getattr(suggestion, name)
        if value is not None:
            values[info.alias or name] = value
    unknown = sorted((suggestion.model_extra or {}).keys())
    return values, unknown


def check_value(param: Parameter, value: Any) -> Any:
    """The value as the parameter would store it, or ValueError saying why not."""
    if param.kind == "json" and isinstance(value, str):
        try:
            value = bounded_json.loads(value, max_bytes=MAX_JSON_BYTES, what="the value")
        except ValueError as exc:
            raise ValueError(f"not valid JSON: {exc}") from None
    elif param.kind == "number" and isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a number") from None
    elif param.kind in ("text", "code") and isinstance(value, str) and not value.strip():
        raise ValueError("an empty value")
    if param.kind == "code" and isinstance(value, str):
        value = as_function(_strip_fences(value), param.data)
    return param.validate(value)


def review(keys: Dict[Parameter, str], values: Dict[str, Any], unknown: List[str]) -> Tuple[Dict[Parameter, Any], List[Proposal]]:
    """Check every suggested value; return the valid changes and a Proposal for each suggestion."""
    by_key = {key: param for param, key in keys.items()}
    changes: Dict[Parameter, Any] = {}
    proposals = [Proposal(name, None, False, "not a variable of this step") for name in unknown]
    for key, value in values.items():
        param = by_key[key]
        try:
            checked = check_value(param, value)
        except ValueError as exc:
            proposals.append(Proposal(param.name, value, False, f"rejected: {exc}"))
            continue
        if param.spec.same(checked, param.data):
            proposals.append(Proposal(param.name, checked, False, "unchanged"))
            continue
        changes[param] = checked
        proposals.append(Proposal(param.name, checked, True))
    return changes, proposals


def _strip_fences(code: str) -> str:
    text = code.strip()
    if text.startswith("```"):
        lines = text.splitlines()[1:]
        if lines and lines[-1].strip().startswith("```"):
            lines = lines[:-1]
        text = "\n".join(lines)
    return text + "\n"


def as_function(code: str, current: str) -> str:
    """Models often answer with only a function's body or its return expression: put it under
    the current definition's header. Anything else is returned as it is, for validation."""
    stripped = code.strip()
    if stripped.startswith(("def ", "async def ", "@", "import ", "from ")):
        return code
    try:
        ast.parse(stripped, mode="eval")
        body = f"return {stripped}"
    except SyntaxError:
        try:
            ast.parse(stripped)
        except SyntaxError:
            return code
        body = stripped
    try:
        header = ast.parse(current).body[-1]
    except (SyntaxError, IndexError):
        return code
    lines = current.splitlines()
    signature = "\n".join(lines[header.lineno - 1: header.body[0].lineno - 1])
    return signature + "\n" + textwrap.indent(body, "    ") + "\n"
