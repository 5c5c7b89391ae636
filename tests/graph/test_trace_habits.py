"""What a user coming from Trace leans on, from the user's side: async bundles, code traced inside
a bundle, nodes read without being given, containers of nodes in traced calls, copies, to_data,
backward() without feedback, bundled functions as modules, bundles held by instances."""
import asyncio
import copy
import warnings

import pytest

import trace_opt as to
from trace_opt.graph import TraceMissingInputsError, TraceMissingInputsWarning, to_data


@to.bundle()
async def shout(text):
    """Upper-case the text, after a pause."""
    await asyncio.sleep(0.01)
    return text.upper()


@to.bundle()
async def fails(text):
    await asyncio.sleep(0)
    raise ValueError(f"no {text}")


def test_an_async_bundle_is_awaited_into_a_traced_node():
    a = to.node("hi")
    out = asyncio.run(shout(a))
    assert isinstance(out, to.MessageNode) and out.data == "HI"
    assert out.parents == (a,) and out.description == "Upper-case the text, after a pause."


def test_gather_of_many_async_calls_builds_one_correct_graph():
    prompt = to.Parameter("p", name="prompt")
    inputs = [to.node(f"q{i}") for i in range(20)]

    async def main():
        return await asyncio.gather(*(shout(prompt + q) for q in inputs))

    outs = asyncio.run(main())
    assert [o.data for o in outs] == [f"PQ{i}" for i in range(20)]
    for q, out in zip(inputs, outs):
        (joined,) = out.parents
        assert joined.parents == (prompt, q)  # each call kept its own inputs, none crossed over
    outs[3].backward("too loud")
    assert [r.output for r in prompt.feedback] == [outs[3]]


def test_async_bundles_keep_tracing_switches_and_errors_as_sync_ones():
    async def main():
        with to.no_trace():
            untraced = await shout(to.node("x"))
        with pytest.raises(to.TraceExecutionError) as caught:
            await fails(to.node("way"))
        return untraced, caught.value

    untraced, error = asyncio.run(main())
    assert untraced.parents == () and not isinstance(untraced, to.MessageNode)
    assert error.node.data == "(ValueError) no way" and error.exception_node is error.node
    assert to.is_tracing()  # the switch the bundle turned off inside is back on


def test_code_traced_inside_a_bundle_is_a_subgraph_feedback_reaches_into():
    hidden = to.Parameter(10, name="hidden")

    @to.bundle(traceable_code=True)
    def outer(x):
        """Add the hidden amount."""
        return x * 2 + hidden

    x = to.node(1, name="x")
    out = outer(x)
    assert out.data == 12 and out.parents == (x,)
    inner = out.info["output"]
    assert inner.data == 12 and hidden in inner.parents
    assert out.parameter_dependencies == set() and out.expandable_dependencies == {out}
    out.backward("too small")
    assert [r.output for r in hidden.feedback] == [out]  # through the inner graph
    assert hidden in hidden.feedback[0].subgraph() and out in hidden.feedback[0].subgraph()


def test_a_node_read_without_being_given_is_linked_with_a_warning():
    prompt = to.Parameter("Be brief.", name="prompt")

    @to.bundle()
    def answer(question):
        return f"{prompt.data} {question}"

    with pytest.warns(TraceMissingInputsWarning, match="answer read 'prompt' without being given it"):
        out = answer("why?")
    assert prompt in out.parents and "external:prompt" in out.inputs
    out.backward("too brief")
    assert len(prompt.feedback) == 1  # the edge is not lost: feedback reaches it


def test_a_node_read_without_being_given_can_be_refused_or_allowed():
    prompt = to.Parameter("Be brief.", name="prompt")

    @to.bundle(missing_inputs="error")
    def strict(question):
        return prompt.data + question

    with pytest.raises(TraceMissingInputsError, match="strict read 'prompt'.*Pass it as an argument"):
        strict("?")

    @to.bundle(allow_external_dependencies=True)
    def lenient(question):
        return prompt.data + question

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = lenient("?")
    assert prompt not in out.parents and out.info["external_dependencies"] == [prompt]
    with pytest.raises(ValueError, match="missing_inputs"):
        to.bundle(missing_inputs="ignore")(lambda: 1)


def test_reading_nodes_a_bundle_made_itself_or_was_given_is_not_flagged():
    @to.bundle()
    def inner(x):
        return x + 1

    @to.bundle()
    def outer(x, given):
        return inner(x).data + given

    given = to.Parameter(5, name="given")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert outer(to.node(1), given).data == 7


def test_lists_and_dicts_of_nodes_are_unwrapped_in_traced_calls():
    x, y = to.node("a", name="x"), to.node("b", name="y")
    joined = to.node("+").join([x, y])
    assert joined.data == "a+b" and x in joined.parents and y in joined.parents
    formatted = to.node("{a}-{b}").format(**{"a": x, "b": y})
    assert formatted.data == "a-b" and {x, y} <= set(formatted.parents)
    picked = to.node({"k": 1}).get(to.node("k"))
    assert picked.data == 1


def test_clone_is_traced_detach_and_deepcopy_are_not():
    p = to.Parameter("v", name="p")
    out = p + "!"
    clone = out.clone()
    assert clone.data == "v!" and clone.parents == (out,)
    detached = out.detach()
    assert detached.data == "v!" and detached.parents == ()
    copied = copy.deepcopy(out)
    assert copied.data == "v!" and copied.parents == () and copied is not out
    out.backward("more")
    twin = copy.deepcopy(p)
    assert twin.data == "v" and twin.feedback == [] and len(p.feedback) == 1
    twin.data = "w"
    assert p.data == "v"


def test_to_data_strips_nodes_at_any_depth_keys_included():
    nested = to.node(({to.node(1): to.node("one")}, [to.node(2), (to.node(3),)]))
    assert to_data(nested) == ({1: "one"}, [2, (3,)])
    assert to_data([to.node({"a": to.node([to.node(1)])})]) == [{"a": [1]}]


def test_backward_without_feedback_marks_the_paths():
    p = to.Parameter("x", name="p")
    (p + "y").backward()
    assert len(p.feedback) == 1 and p.feedback[0].feedback.text == ""


def test_a_bundled_function_is_a_module(tmp_path):
    @to.bundle(trainable=True)
    def double(x):
        return x * 2

    assert double.parameters() == [double.parameter]
    double.parameter.data = "def double(x):\n    return x * 3\n"
    path = double.save(tmp_path / "double.json")
    double.parameter.data = "def double(x):\n    return x * 4\n"
    double.load(path)
    assert double(to.node(2)).data == 6
    assert to.bundle()(lambda x: x).parameters() == []


def test_trainable_bundles_held_by_an_instance_are_its_parameters():
    def helper(x):
        return x

    class Agent(to.Module):
        def __init__(self):
            super().__init__()
            self.fn = to.bundle(trainable=True)(helper)
            self.tools = [to.bundle(trainable=True)(helper)]

        def forward(self, x):
            return self.fn(x)

    agent = Agent()
    names = [name for name, _ in agent.named_parameters()]
    assert names == ["fn", "tools.0"]
    assert agent.parameters()[0] is agent.fn.parameter


def test_feedback_reads_as_trace_shaped_dict_too():
    p = to.Parameter(1, name="p")
    out = p * 2 + 1
    out.backward("bigger")
    ((output, records),) = p.feedback.items()
    assert output is out and records[0].user_feedback == "bigger"
    assert [node for _, node in records[0].graph][0] is p and records[0].graph[-1][1] is out


def test_children_are_noted_only_when_asked():
    from trace_opt.graph import nodes

    was_on = nodes._children is not None  # the compat layer turns it on for the whole process
    nodes.track_children(False)
    try:
        x = to.node(1)
        with pytest.raises(AttributeError, match="children are not tracked"):
            (x + 1).children
        nodes.track_children(True)
        y = x + 1
        assert x.children == [y]
        del y
        assert x.children == []  # noted weakly: a child nobody holds is gone
    finally:
        nodes.track_children(was_on)


def test_a_python_function_called_through_a_node_gets_the_nodes():
    class Counter:
        def __init__(self):
            self.step = to.Parameter(1, name="step")

        def add(self, y):
            return y + 1 + self.step  # traced: y and self.step stay nodes here

    counter = to.node(Counter())
    y = to.node(2, name="y")
    out = counter.call("add", y)
    assert out.data == 4 and y in out.parents
    out.backward("too big")
    assert len(counter.data.step.feedback) == 1  # reached through the call's inner graph
    fun = to.node(lambda x: x * 10)
    assert fun(to.node(3)).data == 30 and len(fun(to.node(3)).parents) == 2
    assert to.node("a-b").split("-").data == ["a", "b"]  # builtins still get plain values


def test_recursion_runs_the_plain_function_when_asked():
    @to.bundle(overwrite_python_recursion=True)
    def total(n):
        if n == 0:
            return 0
        below = total(n - 1)
        assert not isinstance(below, to.Node)
        return n + below

    out = total(to.node(10))
    assert out.data == 55 and len(out.parents) == 1
