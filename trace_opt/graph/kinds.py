"""Parameter kinds: what a parameter holds and which values it may take.

A kind is inferred from the initial value (or given), and every later value, whether a
user's assignment or an optimizer's proposal, is checked against it before it is kept.
"""
from __future__ import annotations

import ast
import json
import math
import sys
from dataclasses import dataclass
from typing import Any, Optional, Sequence

KINDS = ("text", "number", "categorical", "code", "json", "tensor", "demos")
DEMO_CHARS = 4000      # one side of one demonstration, at most
MAX_DEMOS = 64         # k, at most


def is_tensor(value: Any) -> bool:
    """True for a torch tensor, without importing torch (no tensor exists until torch is imported)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def parse_function(source: Any, what: str = "code") -> ast.FunctionDef | ast.AsyncFunctionDef:
    """Parse source holding exactly one function definition, or raise ValueError saying why."""
    if not isinstance(source, str):
        raise ValueError(f"{what} must be a string of Python source, got {type(source).__name__}")
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ValueError(f"{what} does not parse: SyntaxError: {exc.msg} (line {exc.lineno})") from None
    defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    others = [n for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Import, ast.ImportFrom))]
    if len(defs) != 1 or others:
        raise ValueError(f"{what} must define exactly one function (imports allowed), found {len(defs)} definitions and {len(others)} other statements")
    return defs[0]


def signature_of(fdef: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple:
    """The parts of a signature a caller relies on: name, parameter names and kinds, default counts."""
    a = fdef.args
    return (
        fdef.name,
        tuple(x.arg for x in a.posonlyargs),
        tuple(x.arg for x in a.args),
        a.vararg.arg if a.vararg else None,
        tuple(x.arg for x in a.kwonlyargs),
        a.kwarg.arg if a.kwarg else None,
        len(a.defaults),
        sum(d is not None for d in a.kw_defaults),
    )


def _looks_like_code(value: str) -> bool:
    head = value.lstrip()
    if not head.startswith(("def ", "async def ", "@")):
        return False
    try:
        parse_function(value)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Spec:
    """What a parameter may hold: its kind and the limits of that kind."""

    kind: str
    bounds: Optional[tuple] = None
    choices: Optional[tuple] = None
    integer: bool = False
    signature: Optional[tuple] = None  # code: the signature every new version must keep
    shape: Optional[tuple] = None  # tensor: the shape every new value must keep
    max_items: Optional[int] = None  # demos: k, the most demonstrations it holds

    @classmethod
    def infer(cls, value: Any, kind: Optional[str], bounds: Optional[Sequence], choices: Optional[Sequence],
              k: Optional[int] = None) -> "Spec":
        if kind is not None and kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if kind == "demos" or k is not None:
            return cls._demos(kind, k, bounds, choices)
        if choices is not None:
            if isinstance(choices, (str, bytes)) or not isinstance(choices, Sequence) or len(choices) == 0:
                raise ValueError(f"choices must be a non-empty list of options, got {choices!r}")
            choices = tuple(choices)
        if kind is None:
            kind = _infer_kind(value, choices)
        if bounds is not None:
            if kind != "number":
                raise ValueError(f"bounds apply to number parameters only, this one is {kind}")
            if not (isinstance(bounds, Sequence) and len(bounds) == 2 and all(_is_number(b) or b is None for b in bounds)):
                raise ValueError(f"bounds must be a pair (low, high) of numbers or None, got {bounds!r}")
            low, high = bounds
            if low is not None and high is not None and low > high:
                raise ValueError(f"bounds must have low <= high, got {bounds!r}")
            bounds = (low, high)
        if kind == "categorical":
            if choices is None:
                choices = (False, True) if isinstance(value, bool) else None
            if choices is None:
                raise ValueError("a categorical parameter needs choices=[...]")
        elif choices is not None:
            raise ValueError(f"choices apply to categorical parameters only, this one is {kind}")
        signature = signature_of(parse_function(value, "the initial code")) if kind == "code" else None
        shape = tuple(value.shape) if kind == "tensor" and is_tensor(value) else None
        integer = kind == "number" and isinstance(value, int) and not isinstance(value, bool)
        return cls(kind, bounds, choices, integer, signature, shape)

    @classmethod
    def _demos(cls, kind: Optional[str], k: Optional[int], bounds: Any, choices: Any) -> "Spec":
        if kind != "demos":
            raise ValueError(f"k applies to demos parameters only (kind='demos'), this one is {kind or 'inferred'}")
        if bounds is not None or choices is not None:
            raise ValueError("bounds and choices do not apply to demos parameters")
        k = 4 if k is None else k
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_DEMOS:
            raise ValueError(f"k (the most demonstrations) must be an int from 1 to {MAX_DEMOS}, got {k!r}")
        return cls("demos", max_items=k)

    def same(self, a: Any, b: Any) -> bool:
        """Whether two values of this kind are one value: the question every "did it change?" asks.
        Tensors: same shape, dtype, device and elements (NaN matching NaN); others: equal and of one
        type (so 1 is not True and 1.0 is not 1), NaN matching NaN."""
        if is_tensor(a) or is_tensor(b):
            return is_tensor(a) and is_tensor(b) and _same_tensor(a, b)
        if type(a) is not type(b):
            return False
        if isinstance(a, float) and math.isnan(a):
            return math.isnan(b)
        try:
            return bool(a == b)
        except Exception:  # a value whose == does not give a truth value
            return False

    def validate(self, value: Any) -> Any:
        """Return the value as it will be stored, or raise ValueError naming what is wrong."""
        check = getattr(self, "_check_" + self.kind)
        return check(value)

    def _check_text(self, value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(f"a text parameter takes a str, got {type(value).__name__}")
        return value

    def _check_number(self, value: Any) -> float | int:
        if not _is_number(value):
            raise ValueError(f"a number parameter takes an int or float, got {type(value).__name__}: {value!r}")
        if not math.isfinite(value):
            raise ValueError(f"a number parameter takes a finite value, got {value!r}")
        if self.integer:
            if value != int(value):
                raise ValueError(f"this number parameter holds integers, got {value!r}")
            value = int(value)
        low, high = self.bounds or (None, None)
        if (low is not None and value < low) or (high is not None and value > high):
            raise ValueError(f"{value!r} is outside bounds {self.bounds}")
        return value

    def _check_categorical(self, value: Any) -> Any:
        for choice in self.choices:
            if value == choice and type(value) is type(choice):
                return choice
        raise ValueError(f"{value!r} is not one of the choices {list(self.choices)}")

    def _check_code(self, value: Any) -> str:
        fdef = parse_function(value)
        try:
            compile(value, "<candidate>", "exec")
        except SyntaxError as exc:  # ast accepts a few things compile rejects
            raise ValueError(f"code does not compile: {exc.msg}") from None
        got = signature_of(fdef)
        if self.signature is not None and got != self.signature:
            raise ValueError(f"code must keep the signature {_show(self.signature)}, got {_show(got)}")
        return value

    def _check_json(self, value: Any) -> Any:
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"a json parameter takes JSON-serializable data: {exc}") from None
        key = non_str_key(value)
        if key is not None:  # JSON would make it a str: save/load and LLM proposals could not give it back
            raise ValueError(f"a json parameter takes str dict keys (JSON object keys are strings), got {key[0]!r}")
        return value

    def _check_demos(self, value: Any) -> list:
        """A list of at most k (input, output) pairs of text, stored as [input, output] lists."""
        if isinstance(value, (str, bytes, dict)) or not isinstance(value, Sequence):
            raise ValueError(f"a demos parameter takes a list of (input, output) pairs, got {type(value).__name__}")
        if len(value) > self.max_items:
            raise ValueError(f"a demos parameter holds at most k={self.max_items} demonstrations, got {len(value)}")
        return [_demo_pair(item, index) for index, item in enumerate(value)]

    def _check_tensor(self, value: Any) -> Any:
        if not is_tensor(value):
            raise ValueError(f"a tensor parameter takes a torch.Tensor, got {type(value).__name__}")
        if self.shape is not None and tuple(value.shape) != self.shape:
            raise ValueError(f"a tensor parameter keeps its shape {list(self.shape)}, got {list(value.shape)}")
        return value


def _demo_pair(item: Any, index: int) -> list:
    if isinstance(item, dict) and set(item) == {"input", "output"}:
        pair = [item["input"], item["output"]]
    elif isinstance(item, (list, tuple)) and len(item) == 2:
        pair = list(item)
    else:
        raise ValueError(f"demonstration {index} must be an (input, output) pair or a dict with 'input' and "
                         f"'output', got {item!r:.80}")
    for side, text in zip(("input", "output"), pair):
        if not isinstance(text, str):
            raise ValueError(f"demonstration {index}: its {side} must be a str, got {type(text).__name__}")
        if len(text) > DEMO_CHARS:
            raise ValueError(f"demonstration {index}: its {side} has {len(text)} characters, over {DEMO_CHARS}")
    return pair


def _same_tensor(a: Any, b: Any) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype or a.device != b.device:
        return False
    if a.is_floating_point() or a.is_complex():
        return bool((a == b).logical_or_(a.isnan() & b.isnan()).all())
    return bool((a == b).all())


def non_str_key(value: Any) -> Optional[tuple]:
    """``(key,)`` for the first dict key in a JSON-serializable value that is not a str, else None."""
    stack = [value]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            for key, item in current.items():
                if not isinstance(key, str):
                    return (key,)
                stack.append(item)
        elif isinstance(current, (list, tuple)):
            stack.extend(current)
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _infer_kind(value: Any, choices: Optional[tuple]) -> str:
    if choices is not None or isinstance(value, bool):
        return "categorical"
    if is_tensor(value):
        return "tensor"
    if _is_number(value):
        return "number"
    if isinstance(value, str):
        return "code" if _looks_like_code(value) else "text"
    if value is None or isinstance(value, (dict, list, tuple)):
        return "json"
    raise TypeError(f"cannot infer a parameter kind for a {type(value).__name__}; pass kind= one of {KINDS}")


def _show(sig: tuple) -> str:
    name, posonly, args, vararg, kwonly, kwarg, _, _ = sig
    parts = list(posonly) + (["/"] if posonly else []) + list(args)
    if vararg:
        parts.append("*" + vararg)
    elif kwonly:
        parts.append("*")
    parts += list(kwonly) + (["**" + kwarg] if kwarg else [])
    return f"{name}({', '.join(parts)})"
