"""Property-based tests of the graph core: random workflows of random operators build,
backward and round-trip through to_json / from_json; random modules round-trip through
state_dict / load_state_dict and save / load; values through encode_value / decode_value.

A workflow is drawn as a plain description (leaves, then steps over earlier values) and
its expected values are computed on plain Python values while it is drawn; each test then
builds it with trace_opt and compares. Ancestor sets are computed from the description,
never from the graph under test.
"""
import json
import math
import operator
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import trace_opt as to
from trace_opt.graph import (ExceptionNode, Feedback, MessageNode, Node, Parameter, TraceExecutionError, ancestors,
                             from_json, to_json, topological_order)
from trace_opt.graph.serialize import decode_value, encode_value

try:
    import torch
except ImportError:  # the tensor properties are skipped, the rest still run
    torch = None

# Deterministic (CI sees the same examples every run) and no example database written
# into the shared checkout; examples are few enough that the file runs in seconds.
SETTINGS = settings(max_examples=200, deadline=None, derandomize=True, database=None, print_blob=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# -- plain values ----------------------------------------------------------------------------
ints = st.integers(-1000, 1000)
floats = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
texts = st.text(max_size=12)
keys = st.text(alphabet="abcxyz_.:{}% ", max_size=4)
scalars = st.one_of(st.none(), st.booleans(), ints, floats, texts)
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                            st.dictionaries(keys, inner, max_size=4)),
                           max_leaves=12)
# Templates for str.format and %: placeholders between pieces that hold no brace or percent.
templates = st.lists(st.one_of(st.sampled_from(["{}", "%s"]), st.text(alphabet="ab -:", max_size=3)),
                     max_size=5).map("".join)
leaf_values = st.one_of(ints, floats, st.booleans(), texts, templates, templates, json_values,
                        st.lists(st.one_of(ints, texts), max_size=4),
                        st.dictionaries(keys, st.one_of(ints, texts), max_size=4))


def same(a, b):
    """Equal and of the same type, all the way down (1 == 1.0 == True would hide a wrong result)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


def as_json_arrays(value):
    """The value with its tuples as lists: JSON has arrays only, so that is what comes back."""
    if isinstance(value, (list, tuple)):
        return [as_json_arrays(v) for v in value]
    if isinstance(value, dict):
        return {k: as_json_arrays(v) for k, v in value.items()}
    return value


def is_json_faithful(value):
    """True when JSON gives back this value, tuples as lists (non-str keys and NaN do not survive)."""
    try:
        return same(json.loads(json.dumps(value, allow_nan=False)), as_json_arrays(value))
    except (TypeError, ValueError, RecursionError):
        return False


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


@st.composite
def workflows(draw, max_steps=20):
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


# -- 1. building -------------------------------------------------------------------------------
@SETTINGS
@given(workflows())
def test_random_workflows_build_to_the_plain_values(wf):
    nodes, _ = build(wf)
    for index, (step, made) in enumerate(zip(wf.steps, nodes)):
        assert isinstance(made, Node)
        assert same(made.data, wf.expected[index]), (step, made.data, wf.expected[index])
        if step[0] == "leaf":
            assert made.parents == ()
            continue
        assert isinstance(made, MessageNode)
        reached = {id(n) for n in ancestors(made)}
        assert all(id(nodes[k]) in reached for k in _inputs(step))  # every input is upstream
        if step[0] == "binop" and step[2] == "nn":
            first, second = (nodes[step[4]], nodes[step[3]]) if step[5] else (nodes[step[3]], nodes[step[4]])
            assert made.parents[0] is first and made.parents[1] is second
            op = MIRROR[step[1]] if step[5] else step[1]
            assert made.op.name == {"sub": "subtract", "mul": "multiply", "truediv": "divide",
                                    "floordiv": "floor_divide", "pow": "power"}.get(op, op)
        if step[0] == "bundle":
            if step[1] in TRAINABLE:
                assert made.parents[-1].kind == "code" and made.inputs["__code"] is made.parents[-1]
            assert made.description == FUNCTIONS[step[1]].__doc__


@SETTINGS
@given(st.sampled_from(sorted(BINARY)), st.sampled_from(["nn", "nl", "ln"]),
       st.one_of(ints.filter(bool), floats.filter(bool), st.booleans()),
       st.one_of(ints.filter(lambda x: 0 < abs(x) <= 4), floats.filter(lambda x: 0 < abs(x) <= 4)))
def test_every_binary_operator_in_every_form_computes_what_python_does(op, mode, a, b):
    """Each operator written node-node, node-literal and literal-node (Python's reflected path),
    on non-zero numbers so that an operand order mix-up shows in the value."""
    x = Parameter(a)
    y = Parameter(b) if mode == "nn" else b
    left, right = (x, y) if mode != "ln" else (b, x)
    try:
        expected, error = BINARY[op](a if mode != "ln" else b, b if mode != "ln" else a), None
    except Exception as exc:
        expected, error = None, exc
    if error is not None:
        with pytest.raises(TraceExecutionError) as caught:
            BINARY[op](left, right)
        assert type(caught.value.exception) is type(error)
        return
    made = BINARY[op](left, right)
    assert isinstance(made, MessageNode) and same(made.data, expected)
    assert any(p is x for p in made.parents) and len(made.parents) == 2
    if mode == "nn":
        assert made.parents[0] is x and made.parents[1] is y
    x.zero_feedback()
    made.backward("feedback")
    assert [r.output for r in x.feedback] == [made]


@SETTINGS
@given(workflows(max_steps=8))
def test_without_tracing_the_same_workflow_gives_the_same_values_and_no_graph(wf):
    with to.no_trace():
        nodes, _ = build(wf)
    for index, (step, made) in enumerate(zip(wf.steps, nodes)):
        assert same(made.data, wf.expected[index])
        assert made.parents == () and (step[0] == "leaf" or not isinstance(made, Parameter))


# -- 2. backward -------------------------------------------------------------------------------
@SETTINGS
@given(workflows())
def test_backward_reaches_exactly_the_trainable_ancestors(wf):
    nodes, params = build(wf)
    for out, fb in zip(wf.outputs, wf.feedback):
        nodes[out].backward(fb)
    for key, param in params.items():
        about = [out for out in wf.outputs if key in wf.params[out]]
        if key not in wf.trainable:
            assert param.feedback == []
            continue
        assert [r.output for r in param.feedback] == [nodes[out] for out in about]
        expected_feedback = [Feedback.coerce(fb) for out, fb in zip(wf.outputs, wf.feedback) if key in wf.params[out]]
        assert [r.feedback for r in param.feedback] == expected_feedback
        assert all(r.parameter is param for r in param.feedback)
        for record, out in zip(param.feedback, about):
            # The linking subgraph holds exactly the steps on a path from the parameter to the output.
            linked = record.subgraph()
            assert linked[0] is param and linked[-1] is nodes[out]
            ids = {id(n) for n in linked}
            on_path = {s for s in wf.upstream[out] if key in wf.params[s]}
            assert {s for s, n in enumerate(nodes) if id(n) in ids} == on_path
    reached = {id(p) for p in params.values() if p.feedback}
    expected = set().union(*(wf.params[out] for out in wf.outputs)) & wf.trainable
    assert reached == {id(params[key]) for key in expected}
    for param in params.values():
        param.zero_feedback()
    assert all(p.feedback == [] for p in params.values())
    assert all(same(n.data, v) for n, v in zip(nodes, wf.expected))  # the graph is intact after backward


# -- 3. JSON export ----------------------------------------------------------------------------
def _reject_constant(name):
    raise ValueError(f"to_json wrote {name}, which is not JSON")


@SETTINGS
@given(workflows())
def test_to_json_round_trip_keeps_nodes_edges_names_kinds_and_values(wf):
    nodes, _ = build(wf)
    for out in dict.fromkeys(wf.outputs):
        text = to_json(nodes[out])
        assert to_json(nodes[out]) == text  # deterministic
        document = json.loads(text, parse_constant=_reject_constant)  # strict JSON: no NaN or Infinity
        back = from_json(text)
        before, after = topological_order([nodes[out]]), topological_order([back])
        assert len(before) == len(after) == len(document["nodes"])
        assert {id(n) for n in before} == {id(n) for n in ancestors(nodes[out])}
        position = {id(n): i for i, n in enumerate(before)}
        position_back = {id(n): i for i, n in enumerate(after)}
        for old, new, entry in zip(before, after, document["nodes"]):
            assert type(new) is type(old) and entry["type"] == type(old).__name__
            if isinstance(old, ExceptionNode):  # the failure reads back as one, its exception as text
                assert str(new.exception) == old.data
            assert new.name == old.name and new.description == old.description
            assert [position_back[id(p)] for p in new.parents] == [position[id(p)] for p in old.parents]
            if isinstance(old, MessageNode):
                assert new.op.name == old.op.name and list(new.inputs) == list(old.inputs)
            if isinstance(old, Parameter):
                assert (new.kind, new.trainable, new.bounds, new.choices, new.constraint) == \
                       (old.kind, old.trainable, old.bounds, old.choices, old.constraint)
            if is_json_faithful(old.data):
                assert same(new.data, as_json_arrays(old.data))
            else:  # documented: a value JSON cannot hold comes back as its repr
                assert new.data == {"repr": repr(old.data)[:1000]}
        assert to_json(back) == text


odd_keys = st.one_of(keys, ints, st.booleans(), st.none(), floats, st.tuples(ints))
odd_values = st.recursive(
    st.one_of(scalars, st.floats(), st.binary(max_size=3), st.frozensets(ints, max_size=2),
              st.deferred(lambda: tensors()) if torch is not None else st.nothing()),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.tuples(inner, inner),
                            st.dictionaries(odd_keys, inner, max_size=3)),
    max_leaves=8)


@SETTINGS
@given(odd_values)
def test_to_json_gives_back_a_value_or_its_repr_never_a_different_value(value):
    text = to_json(to.node(value, "v"))
    json.loads(text, parse_constant=_reject_constant)
    back = from_json(text).data
    if torch is not None and isinstance(value, torch.Tensor):
        assert same_value(back, value)
    elif is_json_faithful(value):
        assert same(back, as_json_arrays(value))
    else:
        assert back == {"repr": repr(value)[:1000]}


# -- 4. modules --------------------------------------------------------------------------------
class Coder(to.Module):
    @to.bundle(trainable=True)
    def extract(self, reply):
        """Pull out the answer."""
        return reply.strip()


CODE_VARIANTS = [None, "def extract(self, reply):\n    return reply.upper()\n",
                 "def extract(self, reply):\n    return reply[::-1]\n"]
RESERVED = set(dir(to.Module))
attr_names = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True).filter(lambda n: n not in RESERVED)


@st.composite
def param_specs(draw):
    """(value, options, fresh value): a parameter, and a valid value of its kind to start a fresh copy from."""
    kinds = ["text", "int", "float", "choice", "flag", "json"] + (["tensor"] if torch is not None else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "text":
        return draw(st.text(max_size=30)), {"kind": "text"}, ""
    if kind in ("int", "float"):
        number = ints if kind == "int" else floats
        value = draw(number)
        gap = st.integers(0, 100) if kind == "int" else st.floats(0, 100)
        low = draw(st.one_of(st.none(), gap.map(lambda d: value - d)))
        high = draw(st.one_of(st.none(), gap.map(lambda d: value + d)))
        options = {"bounds": (low, high)} if draw(st.booleans()) else {}
        start = low if low is not None else high if high is not None else 0
        return value, options, type(value)(start if options else 0)
    if kind == "choice":
        choices = draw(st.lists(st.one_of(st.none(), st.booleans(), ints, floats, texts, st.lists(ints, max_size=2)),
                                min_size=1, max_size=4, unique_by=lambda x: (type(x).__name__, repr(x))))
        return draw(st.sampled_from(choices)), {"choices": choices}, choices[0]
    if kind == "flag":
        return draw(st.booleans()), {}, False
    if kind == "json":
        return draw(json_values), {"kind": "json"}, None
    value = draw(tensors())
    return value, {}, torch.zeros(value.shape, dtype=value.dtype)


@st.composite
def tensors(draw):
    dtype = draw(st.sampled_from(["float32", "float64", "float16", "bfloat16", "int64", "int32", "bool"]))
    shape = draw(st.lists(st.integers(0, 3), max_size=3))
    count = math.prod(shape)
    if dtype == "bool":
        items = draw(st.lists(st.booleans(), min_size=count, max_size=count))
    elif dtype.startswith("int"):
        items = draw(st.lists(st.integers(-2**31, 2**31 - 1), min_size=count, max_size=count))
    else:  # within float16's range, and the values JSON has no literal for
        special = st.sampled_from([math.nan, math.inf, -math.inf, -0.0])
        items = draw(st.lists(st.one_of(st.floats(-6e4, 6e4), special), min_size=count, max_size=count))
    torch_dtype = getattr(torch, dtype)
    value = torch.tensor(items, dtype=torch.float64 if dtype.startswith("float") or dtype == "bfloat16" else None
                         ).to(torch_dtype).reshape(shape) if count else torch.zeros(shape, dtype=torch_dtype)
    return value


def _module_tree(leaves):
    return st.recursive(leaves, lambda inner: st.one_of(
        st.tuples(st.just("module"), st.dictionaries(attr_names, inner, max_size=3)),
        st.tuples(st.just("list"), st.lists(inner, max_size=3)),
        st.tuples(st.just("tuple"), st.lists(inner, max_size=3)),
        st.tuples(st.just("dict"), st.dictionaries(keys, inner, max_size=3)),
    ), max_leaves=10)


param_leaf = st.tuples(st.just("param"), param_specs(), st.one_of(st.none(), st.text(max_size=5)))
module_leaves = st.one_of(
    param_leaf, param_leaf, param_leaf,
    st.tuples(st.just("coder"), st.sampled_from(range(len(CODE_VARIANTS)))),
    st.just(("root",)),  # a reference back to the root module: a cycle named_parameters must survive
)
modules = st.tuples(st.dictionaries(attr_names, _module_tree(module_leaves), min_size=1, max_size=5),
                    st.lists(st.tuples(attr_names, st.integers(0, 50)), max_size=2))
# A dict key holding a dot spells the path of another parameter: both would be named "d.a.b".
CLASHING_NAMES = ({"d": ("dict", {"a.b": ("param", ("x", {"kind": "text"}, ""), None),
                                  "a": ("dict", {"b": ("param", ("y", {"kind": "text"}, ""), None)})})}, [])


def build_module(description, fresh):
    """A Module from the description: with the drawn values, or (fresh) with other valid ones."""
    attrs, aliases = description
    root, coders = to.Module(), []

    def make(tree):
        kind = tree[0]
        if kind == "param":
            (value, options, fresh_value), name = tree[1], tree[2]
            return Parameter(fresh_value if fresh else value, name, **options)
        if kind == "coder":
            coder = Coder()
            if CODE_VARIANTS[tree[1]] and not fresh:
                coder.extract.parameter.data = CODE_VARIANTS[tree[1]]
            coders.append(coder)
            return coder
        if kind == "root":
            return root
        if kind == "module":
            module = to.Module()
            for attr, sub in tree[1].items():
                setattr(module, attr, make(sub))
            return module
        items = tree[1]
        if kind == "dict":
            return {key: make(sub) for key, sub in items.items()}
        made = [make(sub) for sub in items]
        return made if kind == "list" else tuple(made)

    for attr, sub in attrs.items():
        setattr(root, attr, make(sub))
    found = root.parameters()
    for attr, index in aliases:  # the same parameter held twice is listed once
        if found and attr not in attrs:
            setattr(root, attr, found[index % len(found)])
    return root, coders


def same_value(a, b):
    if torch is not None and isinstance(a, torch.Tensor):
        return (isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape
                and bool(((a == b) | (a.isnan() & b.isnan())).all())
                and bool((a.signbit() == b.signbit()).all() if a.is_floating_point() else True))
    return same(a, b)


def _names_clash(module):
    """Two parameters under one name: state_dict, save and load refuse the module, saying so."""
    names = [name for name, _ in module.named_parameters()]
    if len(set(names)) == len(names):
        return False
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "module.json"
        path.write_text(json.dumps({"format": "trace_opt.module", "version": 1, "parameters": {}}))
        for use in (module.state_dict, lambda: module.load_state_dict({}, strict=False),
                    lambda: module.save(path), lambda: module.load(path)):
            with pytest.raises(ValueError, match="both named"):
                use()
    return True


@SETTINGS
@example(CLASHING_NAMES)
@given(modules)
def test_module_state_dict_round_trips_into_a_fresh_instance_in_place(description):
    module, coders = build_module(description, fresh=False)
    names = [name for name, _ in module.named_parameters()]
    assert len(set(map(id, module.parameters()))) == len(names)
    if _names_clash(module):
        return
    state = module.state_dict()
    assert list(state) == names
    for name, param in module.named_parameters():
        assert same_value(state[name], param.data)
        if isinstance(param.data, (list, dict)) or (torch is not None and isinstance(param.data, torch.Tensor)):
            assert state[name] is not param.data  # a copy: later changes do not reach the state

    fresh, fresh_coders = build_module(description, fresh=True)
    assert [name for name, _ in fresh.named_parameters()] == names
    objects = fresh.parameters()
    held = [p.data for p in objects]
    fresh.load_state_dict(state)
    assert all(a is b for a, b in zip(fresh.parameters(), objects))  # loaded in place
    for (name, param), before in zip(fresh.named_parameters(), held):
        assert same_value(param.data, state[name]), name
        if torch is not None and isinstance(before, torch.Tensor):
            assert param.data is before  # tensors are copied into the existing tensor
    for original, loaded in zip(coders, fresh_coders):
        assert loaded.extract(" ab c ").data == original.extract(" ab c ").data  # the loaded code runs


@SETTINGS
@example(CLASHING_NAMES)
@given(modules)
def test_module_save_and_load_round_trip_through_json(description):
    module, coders = build_module(description, fresh=False)
    if _names_clash(module):
        return
    fresh, fresh_coders = build_module(description, fresh=True)
    objects = fresh.parameters()
    with tempfile.TemporaryDirectory() as folder:
        path = module.save(Path(folder) / "module.json")
        document = json.loads(path.read_text(encoding="utf-8"), parse_constant=_reject_constant)
        fresh.load(path)
    assert document["format"] == "trace_opt.module"
    assert list(document["parameters"]) == [name for name, _ in module.named_parameters()]
    assert all(a is b for a, b in zip(fresh.parameters(), objects))
    for (name, original), (_, loaded) in zip(module.named_parameters(), fresh.named_parameters()):
        assert loaded.kind == original.kind and document["parameters"][name]["kind"] == original.kind
        assert same_value(loaded.data, original.data), name
    for original, loaded in zip(coders, fresh_coders):
        assert loaded.extract(" ab c ").data == original.extract(" ab c ").data


# -- 5. values ---------------------------------------------------------------------------------
@SETTINGS
@given(json_values)
def test_encode_decode_round_trips_json_values_through_json_text(value):
    encoded = encode_value(value)
    text = json.dumps(encoded, allow_nan=False)
    assert same(decode_value(json.loads(text)), value)


@SETTINGS
@given(st.dictionaries(st.one_of(ints, st.booleans(), st.none(), floats), scalars, min_size=1, max_size=3),
       st.lists(st.from_regex(r"[a-z]{1,3}", fullmatch=True), max_size=2))
def test_a_json_parameter_refuses_dict_keys_json_would_turn_into_str(table, path):
    value = table
    for key in path:  # buried under str keys and lists
        value = {key: [value]}
    with pytest.raises(ValueError, match="str dict keys"):
        Parameter(value)
    param = Parameter({"ok": 1})
    with pytest.raises(ValueError, match="str dict keys"):
        param.data = value
    assert param.data == {"ok": 1}


@pytest.mark.skipif(torch is None, reason="torch is not installed")
@SETTINGS
@given(st.deferred(tensors))
def test_encode_decode_round_trips_tensors_through_json_text(tensor):
    text = json.dumps(encode_value(tensor), allow_nan=False)
    back = decode_value(json.loads(text))
    assert same_value(back, tensor) and back.device.type == "cpu"
