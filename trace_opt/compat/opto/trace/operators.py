"""Trace's operator functions (``ops.add(x, y)``, ``ops.cond(c, x, y)``, ``ops.list_extend(x, y)``,
...): each is a trace_opt bundle of the plain Python operation, so each call is one traced node.
Container updates (``dict_update``, ``list_append``, ...) change the value and return it, as in Trace."""
from __future__ import annotations

import math
import operator as _py
from typing import Any, Callable, Dict

from ....graph.bundle import Bundle


def _op(name: str, fn: Callable, what: str) -> Bundle:
    return Bundle(fn, name=name, description=f"[{name}] {what}")


def _updated(method: str) -> Callable:
    def update(x: Any, *args: Any) -> Any:
        getattr(x, method)(*args)
        return x
    update.__name__ = method
    return update


def _returned(method: str) -> Callable:
    def call(x: Any, *args: Any, **kwargs: Any) -> Any:
        return getattr(x, method)(*args, **kwargs)
    call.__name__ = method
    return call


_BINARY: Dict[str, Any] = {
    "add": _py.add, "subtract": _py.sub, "multiply": _py.mul, "floor_divide": _py.floordiv, "divide": _py.truediv,
    "mod": _py.mod, "power": _py.pow, "lshift": _py.lshift, "rshift": _py.rshift, "and_": _py.and_,
    "or_": _py.or_, "xor": _py.xor, "lt": _py.lt, "le": _py.le, "eq": _py.eq, "neq": _py.ne, "ne": _py.ne,
    "ge": _py.ge, "gt": _py.gt, "is_": _py.is_, "is_not": _py.is_not, "concat": _py.concat,
    "node_divmod": divmod,
}
_UNARY: Dict[str, Any] = {
    "identity": lambda x: x, "clone": lambda x: x, "pos": _py.pos, "neg": _py.neg, "abs": abs, "invert": _py.invert,
    "round": round, "floor": math.floor, "ceil": math.ceil, "trunc": math.trunc, "not_": _py.not_, "len_": len,
    "ord_": ord, "chr_": chr, "to_list": list, "to_dict": dict, "to_set": set, "to_tuple": tuple,
    "lower": _returned("lower"), "upper": _returned("upper"), "title": _returned("title"),
    "swapcase": _returned("swapcase"), "capitalize": _returned("capitalize"), "keys": _returned("keys"),
    "values": _returned("values"), "items": _returned("items"),
}

for _name, _fn in _BINARY.items():
    globals()[_name] = _op(_name, lambda x, y, _fn=_fn: _fn(x, y), f"Return {_name.rstrip('_')}(x, y).")
for _name, _fn in _UNARY.items():
    globals()[_name] = _op(_name, lambda x, _fn=_fn: _fn(x), f"Return {_name.rstrip('_')}(x).")

for _name in ("list_append", "list_clear", "list_extend", "list_insert", "list_remove", "list_reverse", "list_sort",
              "set_add", "set_clear", "set_discard", "set_intersection_update", "set_remove",
              "set_symmetric_difference_update", "set_update", "dict_update"):
    globals()[_name] = _op(_name, _updated(_name.split("_", 1)[1]), f"Update x in place with {_name}; return x.")
for _name in ("list_pop", "set_pop", "dict_pop", "dict_popitem"):
    globals()[_name] = _op(_name, _returned(_name.split("_", 1)[1]), f"Return x.{_name.split('_', 1)[1]}(...).")

cond = _op("cond", lambda condition, x, y: x if condition else y, "Return x if condition else y.")
in_ = _op("in_", lambda x, y: x in y, "Return x in y.")
not_in = _op("not_in", lambda x, y: x not in y, "Return x not in y.")
getitem = _op("getitem", lambda x, index: x[index], "Return x[index].")
pop = _op("pop", lambda x, index: x.pop(index), "Return x.pop(index).")
split = _op("split", lambda x, y=None, maxsplit=-1: x.split(y, maxsplit), "Return x.split(y, maxsplit).")
strip = _op("strip", lambda x, chars=None: x.strip(chars), "Return x.strip(chars).")
replace = _op("replace", lambda x, old, new, count=-1: x.replace(old, new, count), "Return x.replace(old, new).")
format = _op("format", lambda x, *args, **kwargs: x.format(*args, **kwargs), "Return x.format(...).")  # noqa: A001
join = _op("join", lambda x, *y: x.join(y), "Return x.join(y).")
node_getattr = _op("getattr", lambda obj, attr: getattr(obj, attr), "Return the attribute attr of obj.")
call = _op("call", lambda fun, *args, **kwargs: fun(*args, **kwargs), "Return fun(*args, **kwargs).")
make_list = _op("make_list", lambda *args: list(args), "Return a list of the inputs.")
make_tuple = _op("make_tuple", lambda *args: tuple(args), "Return a tuple of the inputs.")
make_set = _op("make_set", lambda *args: set(args), "Return a set of the inputs.")
make_dict = _op("make_dict", lambda **kwargs: dict(kwargs), "Return a dict of the inputs.")
list_insert = _op("list_insert", lambda x, index, value: (x.insert(index, value), x)[1], "Insert value; return x.")


def call_llm(system_prompt: Any, *user_prompts: Any, **options: Any) -> Any:
    """Trace's ``call_llm(system, *parts)``: trace_opt's ``to.ops.llm_call`` with one user turn a part
    (the shared default LLM: the configured or embedded model, unless ``llm=`` names one)."""
    from ....ops import llm_call

    if not user_prompts:
        raise TypeError("call_llm needs a system prompt and at least one user prompt")
    return llm_call(system_prompt, *user_prompts, **options)


del _name, _fn
