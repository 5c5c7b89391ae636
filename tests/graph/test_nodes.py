"""Nodes, parameters and the traced operators."""
import pytest

import trace_opt as to
from trace_opt.graph import MessageNode, Node


def test_node_wraps_a_value_and_keeps_a_node_as_is():
    n = to.node(3, name="three")
    assert isinstance(n, Node) and n.data == 3 and n.name == "three" and n.parents == ()
    assert to.node(n) is n
    p = to.node("hi", trainable=True)
    assert isinstance(p, to.Parameter) and p.trainable


def test_node_rejects_parameter_options_for_constants():
    with pytest.raises(TypeError, match="trainable"):
        to.node(1, bounds=(0, 2))


@pytest.mark.parametrize(
    "value, options, kind",
    [
        ("Answer the question.", {}, "text"),
        (0.7, {"bounds": (0.0, 1.5)}, "number"),
        (3, {}, "number"),
        ("a", {"choices": ["a", "b"]}, "categorical"),
        (True, {}, "categorical"),
        ("def f(x):\n    return x + 1\n", {}, "code"),
        ({"k": [1, 2]}, {}, "json"),
        ([1, 2, 3], {}, "json"),
    ],
)
def test_parameter_kind_is_inferred(value, options, kind):
    p = to.Parameter(value, **options)
    assert p.kind == kind and p.data == value


def test_tensor_parameter_kind():
    torch = pytest.importorskip("torch")
    p = to.Parameter(torch.zeros(3))
    assert p.kind == "tensor"
    with pytest.raises(ValueError, match="shape"):
        p.data = torch.zeros(4)
    p.data = torch.ones(3)
    assert p.data.sum().item() == 3


def test_number_bounds_and_integers_are_enforced_and_leave_value_unchanged():
    p = to.Parameter(0.7, bounds=(0.0, 1.5))
    for bad in (2.0, -1, float("nan"), "0.5", True):
        with pytest.raises(ValueError):
            p.data = bad
        assert p.data == 0.7
    p.data = 1.5
    assert p.data == 1.5
    steps = to.Parameter(5, bounds=(1, 10))
    with pytest.raises(ValueError, match="integers"):
        steps.data = 5.5
    steps.data = 6.0
    assert steps.data == 6 and isinstance(steps.data, int)
    with pytest.raises(ValueError, match="outside bounds"):
        to.Parameter(11, bounds=(1, 10))


def test_categorical_choices_are_enforced():
    p = to.Parameter("gpt", choices=["gpt", "claude"])
    with pytest.raises(ValueError, match="not one of the choices"):
        p.data = "llama"
    assert p.data == "gpt"
    p.data = "claude"
    assert p.data == "claude"


def test_code_parameter_must_compile_and_keep_its_signature():
    p = to.Parameter("def f(x, y=1):\n    return x + y\n")
    with pytest.raises(ValueError, match="does not parse"):
        p.data = "def f(x, y=1)\n    return x"
    with pytest.raises(ValueError, match="keep the signature f\\(x, y\\)"):
        p.data = "def f(x):\n    return x\n"
    with pytest.raises(ValueError, match="keep the signature"):
        p.data = "def g(x, y=1):\n    return x\n"
    assert "return x + y" in p.data
    p.data = "import math\ndef f(x, y=2):\n    return math.floor(x) * y\n"
    assert "math.floor" in p.data


def test_bad_parameter_arguments_name_what_is_wrong():
    with pytest.raises(ValueError, match="kind must be one of"):
        to.Parameter("x", kind="prose")
    with pytest.raises(ValueError, match="bounds apply to number"):
        to.Parameter("x", bounds=(0, 1))
    with pytest.raises(ValueError, match="low <= high"):
        to.Parameter(1.0, bounds=(2, 1))
    with pytest.raises(ValueError, match="choices"):
        to.Parameter("a", choices=[])
    with pytest.raises(TypeError, match="cannot infer"):
        to.Parameter(object())
    with pytest.raises(TypeError, match="plain value"):
        to.Parameter(to.node(1))


def test_arithmetic_is_traced_with_operands_in_python_order():
    a, b = to.node(7, name="a"), to.node(2, name="b")
    cases = {
        a + b: 9, a - b: 5, a * b: 14, a / b: 3.5, a // b: 3, a % b: 1, a ** b: 49,
        10 - a: 3, 14 / a: 2.0, 2 ** b: 4, -a: -7, abs(-a): 7, a << 1: 14, a & 3: 3, a | 8: 15, a ^ 1: 6,
    }
    for out, expected in cases.items():
        assert isinstance(out, MessageNode) and out.data == expected
    diff = 10 - a
    assert diff.parents[0].data == 10 and diff.parents[1] is a
    assert list((a + b).inputs) == ["a", "b"]
    assert (a + b).description == "[add] Return a + b."


def test_comparisons_are_nodes_with_python_truth_and_nodes_hash_by_identity():
    a = to.node(3)
    eq = a == 3
    assert isinstance(eq, MessageNode) and eq.parents[0] is a and bool(eq) is True
    assert bool(a < 2) is False and bool(a >= 3) is True and bool(a != 4) is True
    if a == 3:
        reached = True
    assert reached
    b = to.node(3)
    table = {a: "a", b: "b"}
    assert table[a] == "a" and table[b] == "b"
    assert a in [b, a] and len({a, b}) == 2


def test_len_is_plain_and_len_method_is_traced():
    s = to.node([1, 2, 3])
    assert len(s) == 3 and isinstance(len(s), int)
    n = s.len()
    assert isinstance(n, MessageNode) and n.data == 3 and n.parents == (s,)


def test_indexing_iteration_and_contains():
    items = to.node({"x": 1, "y": 2})
    assert items["y"].data == 2 and items["y"].parents[0] is items
    assert [k.data for k in items] == ["x", "y"]
    seq = to.node(["a", "b"])
    parts = list(seq)
    assert [p.data for p in parts] == ["a", "b"] and parts[1].parents[0] is seq
    assert "a" in seq
    assert [10, 20, 30][to.node(1)] == 20
    with pytest.raises(TypeError, match="cannot be changed in place"):
        seq[0] = "z"


def test_attribute_access_falls_back_to_the_data_and_is_traced():
    s = to.node("  Hello  ")
    out = s.strip().lower()
    assert out.data == "hello"
    call = out
    assert call.op.name == "call" and call.parents[0].op.name == "getattr"
    chain = to.graph.topological_order([out])
    assert s in chain
    assert s.call("replace", "l", "L").data == "  HeLLo  "
    assert s.getattr("upper")().data == "  HELLO  "
    with pytest.raises(AttributeError, match="nor does its data"):
        s.no_such_method
    assert not hasattr(s, "_private")


def test_calling_a_node_that_holds_a_callable_is_traced():
    f = to.node(lambda x, scale=1: x * scale)
    out = f(to.node(4), scale=to.node(3))
    assert out.data == 12 and len(out.parents) == 3
    assert list(out.inputs) == ["fn", "args[0]", "scale"]


def test_a_failing_operator_raises_trace_execution_error_with_an_exception_node():
    with pytest.raises(to.TraceExecutionError) as info:
        to.node("text") + 1
    err = info.value
    assert isinstance(err.node, to.ExceptionNode)
    assert err.node.data.startswith("(TypeError)") and isinstance(err.exception, TypeError)
    assert err.node.parents[0].data == "text"


def test_plain_conversions_and_repr():
    n = to.node(2.5)
    assert float(n) == 2.5 and int(n) == 2 and str(n) == "2.5" and f"{n:.2f}" == "2.50"
    assert "data=2.5" in repr(n)
