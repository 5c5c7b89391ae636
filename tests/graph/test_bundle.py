"""bundle: functions as traced operations, trainable code, errors as feedback."""
import builtins
import os

import pytest

import trace_opt as to
from trace_opt.graph import MessageNode
from trace_opt.graph.isolated import IsolatedCode
from trace_opt.sandbox import DEFAULT_POLICY


@to.bundle()
def shout(text, times=1):
    """Make the text loud."""
    return (text.upper() + "!") * times


def test_bundle_records_one_message_node_with_the_docstring():
    msg = to.node("hi", name="msg")
    out = shout(msg, times=2)
    assert isinstance(out, MessageNode) and out.data == "HI!HI!"
    assert out.description == "Make the text loud."
    assert out.inputs["text"] is msg and out.inputs["times"].data == 2
    assert out.op is shout and out.name == "shout"


def test_bundle_inside_runs_untraced_so_it_is_one_atomic_step():
    @to.bundle()
    def twice(x):
        return x + x  # plain values here

    inner = to.node(3)
    out = twice(inner)
    assert out.data == 6 and out.parents == (inner,)


def test_bundle_unwraps_lists_of_nodes_and_varargs():
    @to.bundle()
    def total(items, *more, **named):
        return sum(items) + sum(more) + sum(named.values())

    a, b, c, d = (to.node(v) for v in (1, 2, 3, 4))
    out = total([a, b], c, extra=d)
    assert out.data == 10
    assert out.parents == (a, b, c, d)
    assert list(out.inputs) == ["items[0]", "items[1]", "more[0]", "extra"]


def test_bundle_needs_a_callable():
    with pytest.raises(TypeError, match="needs a function as fn, got int"):
        to.bundle()(5)
    with pytest.raises(TypeError, match="needs a function"):
        to.bundle(fn="not callable")


def test_bundle_reports_bad_arguments_with_its_name():
    with pytest.raises(TypeError, match="shout\\(\\)"):
        shout()


def test_trainable_function_has_a_code_parameter_that_is_recompiled_when_changed():
    @to.bundle(trainable=True)
    def score(x):
        """Score a number."""
        return x * 2

    code = score.parameter
    assert code.kind == "code" and code.data.startswith("def score(x):")
    assert "@to.bundle" not in code.data
    first = score(to.node(5))
    assert first.data == 10 and first.inputs["__code"] is code
    code.data = "import math\ndef score(x):\n    return math.sqrt(x) + OFFSET\n"
    assert score(to.node(16)).data == 4 + OFFSET
    with pytest.raises(ValueError, match="signature"):
        code.data = "def score(x, y):\n    return x\n"
    assert score(to.node(16)).data == 4 + OFFSET


OFFSET = 100


def test_trainable_lambda_is_a_clear_error():
    with pytest.raises(ValueError, match="cannot train a lambda"):
        to.bundle(trainable=True)(lambda x: x)


class Extractor(to.Module):
    def __init__(self, suffix):
        super().__init__()
        self.suffix = to.Parameter(suffix)

    @to.bundle(trainable=True)
    def extract(self, reply):
        """Pull the final answer out of the reply."""
        return reply.strip().splitlines()[-1]

    def forward(self, reply):
        return self.extract(reply) + self.suffix


def test_method_bundle_gives_each_instance_its_own_code_parameter():
    one, two = Extractor("!"), Extractor("?")
    p1, p2 = one.extract.parameter, two.extract.parameter
    assert p1 is not p2 and p1 is one.extract.parameter
    assert p1.data.startswith("def extract(self, reply):")
    assert one.parameters() == [one.suffix, p1]
    p2.data = "def extract(self, reply):\n    return reply.strip().splitlines()[0]\n"
    assert one("a\nb").data == "b!" and two("a\nb").data == "a?"
    out = one("x\ny")
    assert p1 in to.graph.ancestors(out)


def test_an_exception_becomes_an_exception_node_and_feedback():
    agent = Extractor("!")
    question = to.node("   ", name="reply")
    with pytest.raises(to.TraceExecutionError) as info:
        agent.extract(question)
    err = info.value
    message = str(err)
    assert "IndexError" in message and "list index out of range" in message
    assert "return reply.strip().splitlines()[-1]" in message  # the failing source line
    node = err.node
    assert isinstance(node, to.ExceptionNode) and node.data == "(IndexError) list index out of range"
    assert node.parents[0] is question and node.parents[1] is agent.extract.parameter
    node.backward(str(err))
    record = agent.extract.parameter.feedback[-1]
    assert record.output is node and "failing line" in record.feedback.text


def test_failing_line_is_reported_for_recompiled_code_too():
    @to.bundle(trainable=True)
    def parse(text):
        return int(text)

    parse.parameter.data = "def parse(text):\n    cleaned = text.strip()\n    return int(cleaned) // 0\n"
    with pytest.raises(to.TraceExecutionError, match="return int\\(cleaned\\) // 0"):
        parse(to.node(" 4 "))


def test_catch_exceptions_false_lets_the_original_error_through():
    @to.bundle(catch_exceptions=False)
    def fail(x):
        raise KeyError(x)

    with pytest.raises(KeyError):
        fail(to.node("k"))


def test_bundle_under_no_trace_returns_an_unlinked_node():
    with to.no_trace():
        out = shout(to.node("a"))
    assert out.data == "A!" and out.parents == ()


def test_changed_code_runs_with_the_parameters_code_runner_and_the_original_in_process():
    @to.bundle(trainable=True)
    def count(text):
        return len(text)

    param = count.parameter
    param.code_runner = IsolatedCode(DEFAULT_POLICY)
    assert count("abc").data == 3  # the user's own code is untouched
    param.data = "def count(text):\n    import os\n    return os.getpid() + len(text)\n"
    with pytest.raises(to.TraceExecutionError, match="imported os, not allowed"):
        count("abc")  # ran in a worker, under the policy
    param.code_runner = None  # compiled in this process when the runner goes
    assert count("abc").data == os.getpid() + 3
