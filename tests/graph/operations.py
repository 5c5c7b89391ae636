"""The steps a random workflow is made of: each one runs on plain Python values (the expected
data) and on nodes (traced, written the way a user writes it).
"""
import operator

import trace_opt as to


# -- the operators a workflow may use ----------------------------------------------------------
# The same function is applied to plain values (the expectation) and to nodes (traced).
BINARY = {
    "add": operator.add, "sub": operator.sub, "mul": operator.mul, "truediv": operator.truediv,
    "floordiv": operator.floordiv, "mod": operator.mod, "pow": operator.pow, "and": operator.and_,
    "or": operator.or_, "xor": operator.xor, "lshift": operator.lshift, "rshift": operator.rshift,
    "eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le, "gt": operator.gt,
    "ge": operator.ge,
}
# Python reflects a comparison when the right operand is a Node and the left one is not, or its
# type is a subclass of the left one's (a Parameter or an ExceptionNode on the right of a Node):
# the node then records the mirrored comparison, same truth value, operands swapped. (Which
# nodes are subclasses differs without tracing, so failing comparisons are not drawn.)
MIRROR = {"eq": "eq", "ne": "ne", "lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}
UNARY = {"neg": operator.neg, "pos": operator.pos, "abs": abs, "invert": operator.invert}
STR_METHODS = {"upper": (), "lower": (), "strip": (), "title": (), "split": (), "replace": ("a", "b"),
               "startswith": ("a",), "count": ("a",), "find": (":",), "zfill": (4,)}
LIST_METHODS = {"count": (1,), "copy": ()}
DICT_METHODS = {"get": ("a", 0), "copy": ()}


def _join(a, b):
    """Join two values with a bar."""
    return f"{a}|{b}"


def _total(*items):
    """Add up the items."""
    return sum(items)


def _pack(items):
    """Collect the items into a list."""
    return list(items)


def _record(**fields):
    """Collect the fields into a dict."""
    return dict(fields)


def _ratio(a, b=2):
    """Divide a by b."""
    return a / b


def _label(text, n=1):
    """Label the text with a number."""
    return f"{text}#{n}"


FUNCTIONS = {"join": _join, "total": _total, "pack": _pack, "record": _record, "ratio": _ratio, "label": _label}
TRAINABLE = {"ratio", "label"}  # their code is a Parameter: feedback must reach it


def fresh_bundles():
    """New bundles per example, so code parameters start without feedback."""
    return {name: to.bundle(trainable=name in TRAINABLE)(fn) for name, fn in FUNCTIONS.items()}


def run_plain(step, vals):
    """The step on plain Python values: what its node's data must be."""
    kind = step[0]
    if kind == "binop":
        _, op, mode, i, other, _swapped = step
        a, b = (vals[i], vals[other]) if mode == "nn" else ((vals[i], other) if mode == "nl" else (other, vals[i]))
        return BINARY[op](a, b)
    if kind == "unop":
        return UNARY[step[1]](vals[step[2]])
    if kind == "len":
        return len(vals[step[1]])
    if kind == "getitem":
        _, i, key, key_is_value = step
        return vals[i][vals[key] if key_is_value else key]
    if kind == "method":
        _, i, name, args, _form = step
        return getattr(vals[i], name)(*args)
    if kind == "format":
        _, t, idxs, _form = step
        return vals[t].format(*[vals[k] for k in idxs])
    if kind == "percent":
        return vals[step[1]] % vals[step[2]]
    if kind == "bundle":
        _, name, idxs, kwnames = step
        args = [vals[k] for k in idxs]
        if name == "pack":
            return _pack(args)
        return FUNCTIONS[name](**dict(zip(kwnames, args))) if kwnames else FUNCTIONS[name](*args)
    if kind == "iter":
        return list(vals[step[1]])[step[2]]
    raise AssertionError(step)


def run_traced(step, nodes, bundles):
    """The step on nodes, written the way a user writes it."""
    kind = step[0]
    if kind == "binop":
        _, op, mode, i, other, _swapped = step
        if mode == "nn":
            return BINARY[op](nodes[i], nodes[other])
        return BINARY[op](nodes[i], other) if mode == "nl" else BINARY[op](other, nodes[i])
    if kind == "unop":
        return UNARY[step[1]](nodes[step[2]])
    if kind == "len":
        return nodes[step[1]].len()
    if kind == "getitem":
        _, i, key, key_is_value = step
        return nodes[i][nodes[key] if key_is_value else key]
    if kind == "method":
        _, i, name, args, form = step
        return getattr(nodes[i], name)(*args) if form == "attr" else nodes[i].call(name, *args)
    if kind == "format":
        _, t, idxs, form = step
        args = [nodes[k] for k in idxs]
        return nodes[t].format(*args) if form == "attr" else nodes[t].call("format", *args)
    if kind == "percent":
        return nodes[step[1]] % nodes[step[2]]
    if kind == "bundle":
        _, name, idxs, kwnames = step
        args = [nodes[k] for k in idxs]
        if name == "pack":
            return bundles["pack"](args)  # a list of nodes: each one is a parent
        return bundles[name](**dict(zip(kwnames, args))) if kwnames else bundles[name](*args)
    if kind == "iter":
        return list(nodes[step[1]])[step[2]]
    raise AssertionError(step)


def _inputs(step):
    """Indices of the earlier values a step reads."""
    kind = step[0]
    if kind == "binop":
        return [step[3], step[4]] if step[2] == "nn" else [step[3]]
    if kind in ("unop",):
        return [step[2]]
    if kind in ("len", "iter"):
        return [step[1]]
    if kind == "getitem":
        return [step[1], step[2]] if step[3] else [step[1]]
    if kind == "method":
        return [step[1]]
    if kind == "format":
        return [step[1]] + list(step[2])
    if kind == "percent":
        return [step[1], step[2]]
    if kind == "bundle":
        return list(step[2])
    raise AssertionError(step)
