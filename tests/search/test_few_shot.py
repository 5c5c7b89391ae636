"""to.Demos, llm_call(demos=) and BootstrapFewShot: demonstrations as a parameter, chosen by the
metric from labelled rows and from the traces of well-scored rollouts.

FakeFewShotModel is a scripted stand-in (NOT a model, NOT a recording): like the embedded
SmolLM2 measured in issue 12, it rambles without examples and follows the format of the
examples it is shown."""
import json

import pytest

import trace_opt as to
from trace_opt.optim import BootstrapFewShot


class FakeFewShotModel:
    """Answers a review's sentiment in the demonstrations' words; without any, it rambles."""

    def __init__(self):
        self.chats = []

    def __call__(self, messages, **options):
        self.chats.append(messages)
        shown = [m["content"] for m in messages if m["role"] == "assistant"]
        review = messages[-1]["content"]
        if not shown:
            return "Well, reviews are interesting; this one has words in it."
        good = any(word in review for word in ("great", "loved", "superb"))
        return ("positive" if good else "negative") if "positive" in shown or "negative" in shown else shown[0]


TRAIN = [("The food was great.", "positive"), ("Cold and slow service.", "negative"),
         ("I loved the view.", "positive"), ("Never again.", "negative")]
HELD_OUT = [("A superb evening.", "positive"), ("The soup was bland.", "negative")]


class Classifier(to.Module):
    def __init__(self, llm, k=2):
        super().__init__()
        self.llm = llm
        self.instructions = to.Parameter("Say if the review is positive or negative.", trainable=False)
        self.shots = to.Demos(k=k, name="shots")

    def forward(self, review):
        return to.ops.llm_call(self.instructions, review, demos=self.shots, llm=self.llm)


def accuracy(agent, rows):
    with to.no_trace():
        return sum(agent(to.node(x)).data == y for x, y in rows) / len(rows)


def test_demos_are_validated_saved_and_loaded(tmp_path):
    shots = to.Demos([("2+2?", "4"), {"input": "3+3?", "output": "6"}], k=3)
    assert shots.kind == "demos" and shots.k == 3 and shots.data == [["2+2?", "4"], ["3+3?", "6"]]
    for bad, why in [([("a", "b")] * 4, "at most k=3"), ([("a", 1)], "its output must be a str"),
                     (["ab"], r"must be an \(input, output\) pair"), ([("x" * 5000, "y")], "over 4000"),
                     ("a, b", r"takes a list of \(input, output\) pairs")]:
        with pytest.raises(ValueError, match=why):
            shots.data = bad
    assert shots.data == [["2+2?", "4"], ["3+3?", "6"]]       # unchanged after each refusal
    with pytest.raises(ValueError, match="k .* must be an int from 1 to 64"):
        to.Demos(k=0)
    with pytest.raises(ValueError, match="k applies to demos parameters only"):
        to.Parameter("x", k=2)
    agent = Classifier(FakeFewShotModel())
    agent.shots.data = TRAIN[:2]
    agent.save(tmp_path / "agent.json")
    fresh = Classifier(FakeFewShotModel())
    fresh.load(tmp_path / "agent.json")
    assert fresh.shots.data == [list(r) for r in TRAIN[:2]]
    restored = to.graph.from_json(to.graph.to_json(agent.shots))
    assert restored.kind == "demos" and restored.k == 2 and restored.data == agent.shots.data


def test_demos_become_prior_turns_and_their_feedback_arrives():
    model = FakeFewShotModel()
    agent = Classifier(model)
    agent.shots.data = [TRAIN[0]]
    out = agent(to.node("Loved it, great."))
    assert model.chats[-1] == [
        {"role": "system", "content": "Say if the review is positive or negative."},
        {"role": "user", "content": "The food was great."}, {"role": "assistant", "content": "positive"},
        {"role": "user", "content": "Loved it, great."}]
    assert out.data == "positive"
    out.backward(to.Feedback("right", score=1.0))
    assert [r.output for r in agent.shots.feedback] == [out]
    assert to.ops.llm_call("s", "u", demos=[("a", "b")], llm=model).data == "b"   # a plain list works too
    with pytest.raises(ValueError, match="demonstration 0: its output must be a str"):
        to.ops.llm_call("s", "u", demos=[("a", 2)], llm=model)


def test_labelled_rows_start_a_model_that_never_succeeds_alone():
    agent = Classifier(FakeFewShotModel())
    assert accuracy(agent, HELD_OUT) == 0.0
    optimizer = BootstrapFewShot([agent.shots], trainset=TRAIN, seed=0)
    for x, y in TRAIN[:2]:
        out = agent(to.node(x))
        out.backward(to.Feedback("wrong", score=float(out.data == y)))
    report = optimizer.step(evaluate=lambda: accuracy(agent, TRAIN))
    assert report.baseline_score == 0.0 and report.chosen is not None
    assert report.updated == {"shots": agent.shots.data} and len(agent.shots.data) == 2
    assert accuracy(agent, HELD_OUT) == 1.0


def test_a_tie_keeps_the_incumbent():
    agent = Classifier(FakeFewShotModel())
    agent.shots.data = TRAIN[:2]
    optimizer = BootstrapFewShot([agent.shots], trainset=TRAIN, num_candidates=3, seed=1)
    out = agent(to.node(TRAIN[2][0]))
    out.backward(to.Feedback("right", score=1.0))
    report = optimizer.step(evaluate=lambda: accuracy(agent, TRAIN))   # every set scores 1.0 here
    assert report.baseline_score == 1.0 and all(c.score == 1.0 for c in report.candidates)
    assert report.chosen is None and agent.shots.data == [list(r) for r in TRAIN[:2]]
    assert all(p.reason == "did not beat the current values on evaluation" for p in report.proposals)


def test_well_scored_rollouts_become_demonstrations_through_the_trace():
    model = FakeFewShotModel()
    agent = Classifier(model, k=1)
    agent.shots.data = [TRAIN[0]]
    optimizer = BootstrapFewShot([agent.shots], threshold=1.0, seed=0)
    good = agent(to.node("I loved the view."))            # answered "positive": right
    good.backward(to.Feedback("right", score=1.0))
    bad = agent(to.node("Never again."))                   # answered "negative": scored low on purpose
    bad.backward(to.Feedback("wrong", score=0.0))
    report = optimizer.step()
    pool = optimizer.state[agent.shots]["pool"]
    assert pool == {("I loved the view.", "positive"): 1.0}   # the traced call's user message and reply
    assert agent.shots.data == [["I loved the view.", "positive"]] and report.updated


def test_nothing_to_propose_is_a_skip_with_its_reason():
    agent = Classifier(FakeFewShotModel())
    report = BootstrapFewShot([agent.shots]).step()
    assert report.skipped.startswith("no demonstration to propose yet") and agent.shots.data == []


def test_state_round_trips_through_json_and_auto_routes_demos():
    agent = Classifier(FakeFewShotModel())
    optimizer = BootstrapFewShot([agent.shots], trainset=TRAIN, seed=3)
    saved = json.loads(json.dumps(optimizer.state_dict()))
    again = BootstrapFewShot([agent.shots], seed=99)
    again.load_state_dict(saved)
    assert again.state[agent.shots]["pool"] == optimizer.state[agent.shots]["pool"]
    assert again.rng.random() == optimizer.rng.random()
    composite = to.optim.auto(agent.parameters(), demos={"trainset": TRAIN})
    assert isinstance(composite.routes["demos"], BootstrapFewShot)
    with pytest.raises(TypeError, match="does not write demonstrations"):
        to.optim.OptoPrime([agent.shots])
    with pytest.raises(TypeError, match="fills demos parameters"):
        BootstrapFewShot([to.Parameter("x")])
    with pytest.raises(TypeError, match="trainset row 0 must be an \\(input, output\\) pair of str"):
        BootstrapFewShot([agent.shots], trainset=[("x", 1)])


def test_labelled_demonstrations_are_spread_over_the_answers():
    rows = [("Lovely.", "positive"), ("Superb.", "positive"), ("Great.", "positive"),
            ("Awful.", "negative"), ("Bland.", "negative")]
    shots = to.Demos(k=4)
    optimizer = BootstrapFewShot([shots], trainset=rows, num_candidates=3, seed=1)
    report = optimizer.step()
    assert [d[1] for d in shots.data] == ["positive", "negative", "positive", "negative"]
    for candidate in report.candidates:  # the seeded draws too show both labels
        assert {d[1] for d in next(iter(candidate.changes.values()))} == {"positive", "negative"}
