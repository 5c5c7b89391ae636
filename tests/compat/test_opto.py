"""A Trace program runs through trace_opt.compat.opto by changing its imports, written as a Trace
user writes it. The LLM is Trace's DummyLLM shape over trace_opt's ScriptedLLM (NOT a model)."""
import asyncio
import json

import pytest

from trace_opt.compat.opto import trace
from trace_opt.compat.opto.optimizers import OptoPrime
from trace_opt.compat.opto.optimizers.optimizer import Optimizer
from trace_opt.compat.opto.trace import operators as ops
from trace_opt.compat.opto.trace.bundle import TraceMissingInputsError
from trace_opt.compat.opto.trace.containers import Map, Seq
from trace_opt.compat.opto.trace.utils import contain, sum_feedback
from trace_opt.compat.opto.utils.llm import DummyLLM


def test_nodes_bundles_and_operators_as_trace_writes_them():
    @trace.bundle("[cond] Select x if condition else y.")
    def cond(condition, x, y):
        return x if condition else y

    x, y, c = trace.node(1, name="x"), trace.node(2, name="y"), trace.node(True)
    out = cond(c, x, y)
    assert out.name.split(":")[0] == "cond" and out.data == 1
    assert out._inputs["x"] is x and contain(out.parents, c)
    assert contain(x.children, out)  # Trace's children, noted weakly
    total = ops.add(x, y)
    assert total.data == 3 and type(total) is trace.nodes.MessageNode
    assert ops.list_extend(trace.node([1]), trace.node((2, 3))).data == [1, 2, 3]
    with trace.stop_tracing():
        plain = x + y
    assert plain.inputs == {} and plain == 3


def test_execution_errors_and_missing_inputs_as_in_trace():
    @trace.bundle()
    def divide(a, b):
        return a / b

    with pytest.raises(trace.ExecutionError) as caught:
        divide(trace.node(1), trace.node(0))
    assert "ZeroDivisionError" in caught.value.exception_node.data

    hidden = trace.node(5, trainable=True)

    @trace.bundle()
    def reads_hidden(a):
        return a + hidden.data

    with pytest.raises(TraceMissingInputsError):
        reads_hidden(trace.node(1))


def test_async_bundle_as_trace_tests_it():
    @trace.bundle()
    async def basic(a=0):
        await asyncio.sleep(0)
        return "basic"

    a = trace.node("a")

    async def main():
        return await asyncio.gather(basic(a), basic(a))

    for out in asyncio.run(main()):
        assert type(out) is trace.nodes.MessageNode and out == "basic" and a in out.parents


def test_model_decorator_and_modules_find_every_trainable_bundle(tmp_path):
    def helper():
        return 1

    @trace.model
    class Agent:
        def __init__(self):
            super().__init__()
            self.weight = trace.node(1, trainable=True)
            self.extra = trace.bundle(trainable=True)(helper)

        @trace.bundle(trainable=True)
        def act(self, x):
            return x

        def forward(self, x):
            return self.act(x)

    agent = Agent()
    assert len(agent.parameters()) == 3 and set(agent.parameters_dict()) == {"weight", "extra", "act"}
    assert agent(trace.node(4)).data == 4
    agent.weight._data = 2
    agent.save(tmp_path / "agent.json")
    other = Agent()
    other.load(tmp_path / "agent.json")
    assert other.weight.data == 2


def test_optoprime_with_dummy_llm_backward_step_verbose_log(capsys):
    x = trace.node(-1.0, name="x", trainable=True)
    reply = json.dumps({"reasoning": "make it larger", "suggestion": {"x": 60.0}})
    optimizer = OptoPrime([x], llm=DummyLLM(lambda messages: reply))
    output = x * 2 + 1
    optimizer.zero_feedback()
    optimizer.backward(output, "The number needs to be larger.")
    assert "The number needs to be larger." in optimizer.summarize()
    optimizer.step(verbose=True)
    assert x.data == 60.0 and "60" in capsys.readouterr().out
    assert optimizer.log[-1]["updated"] == {"x": 60.0}
    json.dumps(optimizer.log)  # Trace's tests save the log as JSON
    assert [p.name for p in optimizer.parameters] == ["x"] and optimizer.parameters() == [x]


def test_a_custom_optimizer_written_against_trace_reads_its_feedback():
    class Nudge(Optimizer):
        """Adds 1 to every parameter that got feedback saying 'larger'."""

        def _step(self):
            update = {}
            for p in self.parameters:
                for child, feedbacks in p.feedback.items():
                    if any("larger" in f.user_feedback for f in feedbacks):
                        update[p] = p.data + 1
            return update

    x = trace.node(1, name="x", trainable=True)
    opt = Nudge([x])
    opt.backward(x * 3, "larger please")
    assert sum_feedback([x]).user_feedback == "larger please"
    opt.step()
    assert x.data == 2 and opt.log[-1]["updated"] == {"x": 2}


def test_containers_list_their_parameters():
    assert Seq([1, 2, Seq(3, 4, 5)]).parameters() == []
    assert len(Seq([1, trace.node(2, trainable=True), Seq(3, trace.node(4, trainable=True), 5)]).parameters()) == 2
    assert len(Map({"a": 1, "b": trace.node(2, trainable=True), trace.node("c", trainable=True): 3}).parameters()) == 2


def test_apply_op_broadcasts_over_containers():
    class Box(trace.NodeContainer):
        def __init__(self, x):
            self.x = trace.node(x)
            self.items = [trace.node(x + "1")]
            self.size = len(x)

    out = trace.apply_op(ops.add, Box("output"), Box("foo"), Box("bar"))
    assert out.x.data == "foobar" and out.items[0].data == "foo1bar1"
    assert out.size == 6  # plain values in the inputs only: the output keeps its own


def test_to_data_and_traceable_code():
    assert trace.to_data(trace.node(({trace.node(1): trace.node("1")},))) == ({1: "1"},)

    @trace.bundle(traceable_code=True)
    def f(a, b):
        return a + b + 10

    out = f(trace.node(1), trace.node(2))
    assert out == 13 and "add" in out.info["output"].name


def test_call_llm_sends_each_part_as_a_user_turn_and_is_traced():
    from trace_opt.llm import ScriptedLLM

    llm = ScriptedLLM(["Hola, Juan!"])
    instruction = trace.node("Greet the user.", trainable=True)
    reply = ops.call_llm("You are a sales assistant.", instruction, "Hola, soy Juan.", llm=llm)
    assert reply.data == "Hola, Juan!" and contain(reply.parents, instruction)
    assert [m["role"] for m in llm.calls[0]] == ["system", "user", "user"]
    assert llm.calls[0][1]["content"] == "Greet the user."


def test_descriptions_and_bundle_info_read_as_in_trace():
    assert trace.node(1, description="x").description == "[Node] x"
    assert trace.node(1).description == "[Node] This is a node in a computational graph."
    assert trace.node(1, trainable=True).description == "[ParameterNode] This is a ParameterNode in a computational graph."

    def keep(fn):
        return fn

    @trace.bundle()
    @keep
    def shown():
        """Doc."""
        return 1

    assert shown.info["source"] == '@keep\ndef shown():\n    """Doc."""\n    return 1'
    assert shown.info["line_number"] == shown.fn.__code__.co_firstlineno + 1


def test_trace_opts_own_optimizer_base_takes_traces_constructor_shape():
    import trace_opt as to

    class Doubler(to.optim.Optimizer):
        def step(self):
            for p in self.parameters():
                p.data = p.data * 2
            return to.optim.StepReport(updated={p.name: p.data for p in self.parameters()})

    x = to.Parameter(2, name="x")
    Doubler([x]).step()
    assert x.data == 4
