"""Random workflows for the property tests of the graph core.

A workflow is drawn as a plain description (leaves, then steps over earlier values) and
its expected values are computed on plain Python values while it is drawn; each test then
builds it with trace_opt and compares. Ancestor sets are computed from the description,
never from the graph under test.
"""
import pytest
from hypothesis import strategies as st

import trace_opt as to
from trace_opt.graph import ExceptionNode, Feedback, MessageNode, Node, Parameter, TraceExecutionError

from .operations import BINARY, DICT_METHODS, FUNCTIONS, LIST_METHODS, MIRROR, STR_METHODS, TRAINABLE, UNARY, \
    _inputs, fresh_bundles, run_plain, run_traced
from .values import floats, ints, keys, leaf_values, texts


def _numeric(v):
    return type(v) in (int, float, bool, complex)


def _family(value):
    return "number" if _numeric(value) else type(value).__name__


def _too_costly(step, vals):
    """Steps whose plain computation would be huge (big powers, shifts, repeats): not drawn."""
    if step[0] != "binop":
        return False
    _, op, mode, i, other, _swapped = step
    a, b = (vals[i], vals[other]) if mode == "nn" else ((vals[i], other) if mode == "nl" else (other, vals[i]))
    if op == "pow":
        return _numeric(b) and abs(b) > 4
    if op == "lshift":
        return type(b) in (int, bool) and b > 32
    if op == "mul":
        return any(type(x) in (int, bool) and x > 4 for x in (a, b)) and any(type(x) in (str, list) for x in (a, b))
    return False


def _too_big(value):
    if _numeric(value):
        return abs(value) > 1e12
    if isinstance(value, (str, list, dict)):
        return len(value) > 200
    return False


class Workflow:
    """A drawn workflow: leaves and steps, their expected values, and what each depends on."""

    def __init__(self):
        self.steps = []      # ("leaf", ...) or an operation over earlier indices
        self.expected = []   # plain value, or the expected "(Error) message" of a failing step
        self.errors = []     # the plain exception of a failing step, else None
        self.params = []     # per index: the parameter keys (leaf index or "code:<bundle>") it depends on
        self.upstream = []   # per index: the indices it depends on, itself included
        self.trainable = set()
        self.outputs = []
        self.feedback = []

    def add(self, step, value, error, params, upstream):
        self.upstream.append(frozenset(upstream) | {len(self.steps)})
        self.steps.append(step)
        self.expected.append(value)
        self.errors.append(error)
        self.params.append(frozenset(params))

    def node_type(self, index):
        """The class of the node the step builds, as the description says."""
        step = self.steps[index]
        if step[0] == "leaf":
            return Node if step[1] == "constant" else Parameter
        return MessageNode if self.errors[index] is None else ExceptionNode

    def __repr__(self):
        return f"Workflow(steps={self.steps!r}, outputs={self.outputs!r}, feedback={self.feedback!r})"


def _pick(draw, vals, predicate):
    found = [i for i, v in enumerate(vals) if predicate(v)]
    return draw(st.sampled_from(found)) if found else None


def _draw_step(draw, wf):
    vals = wf.expected
    any_value = lambda v: True  # noqa: E731
    kind = draw(st.sampled_from(["binop", "binop", "binop", "unop", "len", "getitem", "method", "format",
                                 "percent", "bundle", "bundle", "iter"]))
    if kind == "binop":
        op = draw(st.sampled_from(sorted(BINARY)))
        mode = draw(st.sampled_from(["nn", "nl", "ln"]))
        i = _pick(draw, vals, any_value)
        if mode == "nn":  # half the time a partner of the same family, so most steps succeed
            family = _family(vals[i])
            j = _pick(draw, vals, (lambda v: _family(v) == family) if draw(st.booleans()) else any_value)
            left, right = wf.node_type(i), wf.node_type(j)
            return ("binop", op, mode, i, j, op in MIRROR and right is not left and issubclass(right, left))
        # Mostly a literal of the value's family; a str on the left of % formats the node as a
        # plain str (Python's rule, not traced), so that one is kept out.
        numbers = st.one_of(ints.filter(bool), floats.filter(bool), ints, floats, st.booleans())
        family = {"number": numbers, "str": texts, "list": st.lists(ints, max_size=3)}.get(_family(vals[i]), numbers)
        if draw(st.integers(0, 3)) == 0:
            family = st.one_of(numbers, texts, st.lists(ints, max_size=3))
        literal = draw(numbers if mode == "ln" and op == "mod" else family)
        return ("binop", op, mode, i, literal, mode == "ln" and op in MIRROR)
    if kind == "unop":
        return ("unop", draw(st.sampled_from(sorted(UNARY))), _pick(draw, vals, _numeric))
    if kind == "len":
        return ("len", _pick(draw, vals, any_value))
    if kind == "getitem":
        i = _pick(draw, vals, lambda v: isinstance(v, (str, list, dict)))
        if i is None:
            return None
        value = vals[i]
        if isinstance(value, dict):
            key = draw(st.sampled_from(list(value)) if value and draw(st.booleans()) else keys)
            return ("getitem", i, key, False)
        if draw(st.booleans()):  # an index held by another node
            k = _pick(draw, vals, lambda v: type(v) is int and -len(value) <= v < len(value))
            if k is not None:
                return ("getitem", i, k, True)
        if draw(st.booleans()):
            return ("getitem", i, slice(draw(st.integers(-4, 4)), draw(st.integers(-4, 4))), False)
        return ("getitem", i, draw(st.integers(-len(value) - 1, len(value))), False)
    if kind == "method":
        i = _pick(draw, vals, lambda v: isinstance(v, (str, list, dict)))
        if i is None:
            return None
        table = {str: STR_METHODS, list: LIST_METHODS, dict: DICT_METHODS}[type(vals[i])]
        name = draw(st.sampled_from(sorted(table)))
        return ("method", i, name, table[name], draw(st.sampled_from(["attr", "call"])))
    if kind == "format":
        t = _pick(draw, vals, lambda v: isinstance(v, str) and "{}" in v)
        if t is None:
            return None
        count = vals[t].count("{}")
        return ("format", t, [_pick(draw, vals, any_value) for _ in range(count)], draw(st.sampled_from(["attr", "call"])))
    if kind == "percent":
        t = _pick(draw, vals, lambda v: isinstance(v, str) and v.count("%s") == 1)
        if t is None:
            return None
        return ("percent", t, _pick(draw, vals, lambda v: not isinstance(v, tuple)))
    if kind == "bundle":
        name = draw(st.sampled_from(sorted(FUNCTIONS)))
        arity = {"join": 2, "ratio": draw(st.integers(1, 2)), "label": draw(st.integers(1, 2))}.get(
            name, draw(st.integers(0, 4)))
        if name == "total":
            idxs = [_pick(draw, vals, _numeric) for _ in range(arity)]
        else:
            idxs = [_pick(draw, vals, any_value) for _ in range(arity)]
        if None in idxs:
            return None
        if name == "record":
            kwnames = draw(st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,5}", fullmatch=True), min_size=arity,
                                    max_size=arity, unique=True))
        elif name in ("join", "ratio", "label") and draw(st.booleans()):
            kwnames = {"join": ["a", "b"], "ratio": ["a", "b"], "label": ["text", "n"]}[name][:arity]
        else:
            kwnames = []
        return ("bundle", name, idxs, kwnames)
    if kind == "iter":
        i = _pick(draw, vals, lambda v: isinstance(v, (str, list, dict)) and len(v) > 0)
        if i is None:
            return None
        return ("iter", i, draw(st.integers(-len(vals[i]), len(vals[i]) - 1)))
    raise AssertionError(kind)


@st.composite
def workflows(draw, max_steps=20):
    """A Workflow: leaves, up to max_steps steps over them (failing ones too), outputs and their feedback."""
    wf = Workflow()
    for _ in range(draw(st.integers(1, 5))):
        value = draw(leaf_values)
        role = draw(st.sampled_from(["trainable", "frozen", "constant"]))
        name = draw(st.one_of(st.none(), st.text(max_size=6)))
        description = draw(st.one_of(st.none(), st.text(max_size=8)))
        index = len(wf.steps)
        if role == "constant":
            wf.add(("leaf", "constant", value, name, description), value, None, (), ())
        else:
            value = Parameter(value).data  # the value as the parameter stores it
            wf.add(("leaf", role, value, name, description), value, None, {index}, ())
            if role == "trainable":
                wf.trainable.add(index)
    wanted = len(wf.steps) + draw(st.integers(0, max_steps))
    attempts = 0
    while len(wf.steps) < wanted and attempts < 3 * max_steps:
        attempts += 1
        step = _draw_step(draw, wf)
        if step is None or None in _inputs(step) or _too_costly(step, wf.expected):
            continue
        try:
            value, error = run_plain(step, wf.expected), None
        except Exception as exc:  # the traced step must fail the same way
            if step[0] == "binop" and step[1] in MIRROR:
                continue  # a reflected comparison fails with the mirrored message: not drawn
            value, error = f"({type(exc).__name__}) {exc}", exc
        if error is None and _too_big(value):
            continue
        params = set().union(*(wf.params[k] for k in _inputs(step)))
        upstream = set().union(*(wf.upstream[k] for k in _inputs(step)))
        if step[0] == "bundle" and step[1] in TRAINABLE:
            params.add("code:" + step[1])
            wf.trainable.add("code:" + step[1])
        wf.add(step, value, error, params, upstream)
    n = len(wf.steps)
    wf.outputs = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=4))
    wf.feedback = draw(st.lists(st.one_of(texts, floats, st.builds(Feedback, texts, st.one_of(st.none(), floats))),
                                min_size=len(wf.outputs), max_size=len(wf.outputs)))
    return wf


def build(wf):
    """Build the workflow with trace_opt: its nodes (ExceptionNodes for failing steps) and
    the parameter object behind each key."""
    bundles = fresh_bundles()
    nodes, params = [], {}
    for index, step in enumerate(wf.steps):
        if step[0] == "leaf":
            _, role, value, name, description = step
            if role == "constant":
                made = to.node(value, name, description)
            else:
                made = Parameter(value, name, description=description, trainable=role == "trainable")
                params[index] = made
            nodes.append(made)
            continue
        if wf.errors[index] is None:
            made = run_traced(step, nodes, bundles)
        else:
            with pytest.raises(TraceExecutionError) as caught:
                run_traced(step, nodes, bundles)
            assert type(caught.value.exception) is type(wf.errors[index])
            assert str(wf.errors[index]) in str(caught.value)
            made = caught.value.node
            assert isinstance(made, ExceptionNode) and made.exception is caught.value.exception
        nodes.append(made)
    for name, made in bundles.items():
        if made.trainable:
            params["code:" + name] = made.parameter
    return nodes, params
