"""DSPy-style rows and metrics: Example rows with inputs marked, read by the Trainer and the
optimizers like (input, target) pairs; (gold, pred, trace) metrics read as guides."""
import pickle

import pytest

import trace_opt as to
from trace_opt.data import as_pair, target_value
from trace_opt.train.guide import Metric, as_guide


def test_an_example_reads_as_fields_and_splits_into_inputs_and_labels():
    row = to.Example(question="Capital of France?", answer="Paris").with_inputs("question")
    assert row.question == row["question"] == "Capital of France?"
    assert row.inputs().to_dict() == {"question": "Capital of France?"}
    assert row.labels().to_dict() == {"answer": "Paris"}
    assert row.copy(answer="Lyon").answer == "Lyon" and row.answer == "Paris"
    assert row.without("answer").to_dict() == {"question": "Capital of France?"}
    assert pickle.loads(pickle.dumps(row)).input_keys == ("question",)
    with pytest.raises(KeyError, match="'topic' not among the fields"):
        row.with_inputs("topic")
    with pytest.raises(AttributeError, match="no field 'context'"):
        row.context


def test_rows_of_every_shape_read_as_one_input_and_target():
    row = to.Example(question="q", answer="a").with_inputs("question")
    assert as_pair(row) == ("q", row) and target_value(row) == "a"
    two = to.Example(question="q", context="c", answer="a").with_inputs("question", "context")
    assert as_pair(two)[0].to_dict() == {"question": "q", "context": "c"}
    assert as_pair(("q", "a")) == ("q", "a") and as_pair({"input": "q", "target": "a"}) == ("q", "a")
    with pytest.raises(TypeError, match="needs its inputs marked"):
        as_pair(to.Example(question="q", answer="a"), "train")


def test_a_metric_of_dspy_shape_gets_gold_pred_and_trace_and_may_return_score_and_feedback():
    seen = []

    def metric(gold, pred, trace=None):
        seen.append((gold, pred, trace))
        right = pred.answer.lower() == gold.answer.lower()
        return (float(right), "right" if right else f"expected {gold.answer}")

    guide = as_guide(metric)
    assert isinstance(guide, Metric) and guide.takes_trace
    row = to.Example(question="q", answer="Paris").with_inputs("question")
    feedback = guide("paris", row, trace="the node")
    assert feedback.score == 1.0 and feedback.text == "right"
    gold, pred, trace = seen[0]
    assert gold is row and pred == "paris" and pred.answer == "paris" and trace == "the node"
    assert guide("Lyon", row).text == "expected Paris"           # a plain target is read as Example(answer=)


def test_gepa_style_results_and_two_argument_guides_on_example_rows():
    row = to.Example(question="q", answer="Paris").with_inputs("question")
    gepa = as_guide(lambda gold, pred, trace=None, pred_name=None, pred_trace=None:
                    to.Prediction(score=0.5, feedback="half right"))
    assert (gepa("x", row).score, gepa("x", row).text) == (0.5, "half right")
    plain = as_guide(lambda output, target: output == target)    # (output, target): gets the label
    assert plain("Paris", row).score == 1.0
    assert as_guide(lambda o, t: {"score": 0.25, "feedback": "meh"})("x", row).score == 0.25


class Echo(to.Module):
    """An agent of two inputs, called with them as keywords (DSPy's program(**inputs))."""

    def __init__(self):
        super().__init__()
        self.sep = to.Parameter(" | ", description="separator")

    def forward(self, question, context):
        return context + self.sep + question


def test_the_trainer_and_compile_run_example_rows_of_several_inputs_as_keyword_nodes():
    rows = [to.Example(question=f"q{i}", context=f"c{i}", answer=f"c{i}: q{i}").with_inputs("question", "context")
            for i in range(3)]
    seen_traces = []

    def metric(gold, pred, trace=None):
        seen_traces.append(trace)
        return pred == gold.answer

    llm = to.llm.ScriptedLLM([to.llm.ScriptedLLM.suggestion({"sep": ": "})])  # a scripted fake optimizer LLM
    original = Echo()
    trained = to.compile(original, trainset=rows, valset=rows, guide=metric, batch_size=3, progress=False,
                         optimizer=lambda params: to.optim.OptoPrime(params, llm=llm))
    assert original.sep.data == " | " and trained.sep.data == ": "        # the original is untouched
    assert trained.train_result.best_val_score == 1.0 and trained.train_result.steps == 1
    traced = [t for t in seen_traces if t is not None]                    # training: the output node
    assert len(traced) == 3 and all(isinstance(t, to.Node) for t in traced)
    assert all(t.parameter_dependencies == {trained.sep} for t in traced)   # the copy's, not the original's
    with pytest.raises(TypeError, match="not an optimizer built on the original"):
        to.compile(original, rows, rows, metric, optimizer=to.optim.OptoPrime(original.parameters(), llm=llm))


def test_bootstrap_few_shot_takes_example_rows_as_labelled_demos():
    shots = to.Demos(k=2)
    rows = [to.Example(question=f"q{i}", answer=f"a{i}").with_inputs("question") for i in range(3)]
    optimizer = to.optim.BootstrapFewShot([shots], trainset=rows)
    assert set(optimizer.state[shots]["pool"]) == {(f"q{i}", f"a{i}") for i in range(3)}
    with pytest.raises(TypeError, match="one input and one label of text"):
        to.optim.BootstrapFewShot([shots], trainset=[to.Example(q="x", a=1).with_inputs("q")])
