"""Property-based tests of building: random workflows of random operators build to the values
the same steps give on plain Python values, every binary operator in every form computes what
Python does, and without tracing the same workflow gives the same values and no graph.
"""
import pytest
from hypothesis import given
from hypothesis import strategies as st

import trace_opt as to
from trace_opt.graph import MessageNode, Node, Parameter, TraceExecutionError, ancestors

from .operations import BINARY, FUNCTIONS, MIRROR, TRAINABLE, _inputs
from .values import SETTINGS, floats, ints, same
from .workflows import build, workflows


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
