"""The traced operators: what a Python operation on nodes records in the graph.

Each operator is a plain description (name, function, docstring, input names); applying
one to nodes happens in ``nodes.apply``. Keeping them as data lets optimizers show an
operation's meaning without caring whether it came from ``+`` or from a user's bundle.
"""
from __future__ import annotations

import operator as _py
from dataclasses import dataclass
from typing import Any, Callable, Tuple


@dataclass(frozen=True)
class Operator:
    """One kind of traced operation."""

    name: str
    fn: Callable[..., Any]
    description: str
    arg_names: Tuple[str, ...] = ("a", "b")

    def input_names(self, count: int) -> Tuple[str, ...]:
        """Names of a call's inputs; extra positional inputs are named args[i]."""
        if count <= len(self.arg_names):
            return self.arg_names[:count]
        fixed = len(self.arg_names)
        return self.arg_names + tuple(f"args[{i}]" for i in range(count - fixed))


def _binary(name: str, fn: Callable, symbol: str) -> Operator:
    return Operator(name, fn, f"[{name}] Return a {symbol} b.")


def _unary(name: str, fn: Callable, text: str) -> Operator:
    return Operator(name, fn, f"[{name}] Return {text}.", ("x",))


ADD = _binary("add", _py.add, "+")
SUB = _binary("subtract", _py.sub, "-")
MUL = _binary("multiply", _py.mul, "*")
TRUEDIV = _binary("divide", _py.truediv, "/")
FLOORDIV = _binary("floor_divide", _py.floordiv, "//")
MOD = _binary("mod", _py.mod, "%")
POW = _binary("power", _py.pow, "**")
MATMUL = _binary("matmul", _py.matmul, "@")
LSHIFT = _binary("lshift", _py.lshift, "<<")
RSHIFT = _binary("rshift", _py.rshift, ">>")
AND = _binary("and", _py.and_, "&")
OR = _binary("or", _py.or_, "|")
XOR = _binary("xor", _py.xor, "^")

EQ = _binary("eq", _py.eq, "==")
NE = _binary("ne", _py.ne, "!=")
LT = _binary("lt", _py.lt, "<")
LE = _binary("le", _py.le, "<=")
GT = _binary("gt", _py.gt, ">")
GE = _binary("ge", _py.ge, ">=")

NEG = _unary("negate", _py.neg, "-x")
POS = _unary("positive", _py.pos, "+x")
ABS = _unary("abs", abs, "the absolute value of x")
INVERT = _unary("invert", _py.invert, "~x")
LEN = _unary("len", len, "len(x)")


def _identity(x: Any) -> Any:
    return x


IDENTITY = _unary("identity", _identity, "x unchanged (a traced copy)")

GETITEM = Operator("getitem", _py.getitem, "[getitem] Return x[index].", ("x", "index"))
GETATTR = Operator("getattr", getattr, "[getattr] Return the attribute `name` of x.", ("x", "name"))


def _call(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    return fn(*args, **kwargs)


CALL = Operator("call", _call, "[call] Return fn(*args, **kwargs).", ("fn",))

