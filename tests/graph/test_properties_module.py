"""Property-based tests of modules: random trees of modules, parameters of every kind, bundled
code, lists, tuples, dicts and cycles round-trip through state_dict / load_state_dict and
save / load into a fresh instance, in place; two parameters under one name are refused.
"""
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import trace_opt as to
from trace_opt.graph import Parameter

from .values import SETTINGS, _reject_constant, floats, ints, json_values, keys, same_value, tensors, texts, torch


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
