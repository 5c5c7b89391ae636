"""Property-based tests of JSON export: random workflows round-trip through to_json / from_json
with their nodes, edges, names, kinds and values; any value comes back as itself or as its repr;
values and tensors round-trip through encode_value / decode_value and strict JSON text.
"""
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

import trace_opt as to
from trace_opt.graph import ExceptionNode, MessageNode, Parameter, ancestors, from_json, to_json, topological_order
from trace_opt.graph.serialize import decode_value, encode_value

from .values import SETTINGS, _reject_constant, as_json_arrays, floats, ints, is_json_faithful, json_values, keys, \
    same, same_value, scalars, tensors, torch
from .workflows import build, workflows


# -- to_json / from_json -----------------------------------------------------------------------
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


# -- encode_value / decode_value ---------------------------------------------------------------
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
