"""MIPRO: instructions x demonstrations searched together. JointModel is a scripted stand-in
(NOT a model, NOT a recording) that is right only when told to answer in one word AND shown
examples: each alone does not help, so only a joint search finds the gain. The instruction
candidates come from OptoPrime driven by ScriptedLLM (queued replies)."""
import pytest

import trace_opt as to
from trace_opt.optim import MIPRO, BootstrapFewShot

from ..optim.scripted_llm import ScriptedLLM

pytest.importorskip("optuna")

TRAIN = [("The food was great.", "positive"), ("Cold and slow service.", "negative"),
         ("I loved the view.", "positive"), ("Never again.", "negative")]
VAL = [("A superb evening.", "positive"), ("The soup was bland.", "negative"),
       ("Loved every minute.", "positive"), ("Rude staff.", "negative")]
ONE_WORD = "Answer in one word: positive or negative."


class JointModel:
    def __call__(self, messages, **options):
        system, review = messages[0]["content"], messages[-1]["content"]
        shown = [m["content"] for m in messages if m["role"] == "assistant"]
        if shown and "one word" in system:
            return "positive" if any(w in review.lower() for w in ("great", "loved", "superb")) else "negative"
        if shown:
            return shown[0]           # copies the first example's answer
        return "Reviews are interesting."


class Agent(to.Module):
    def __init__(self):
        super().__init__()
        self.instructions = to.Parameter("Read the review.", description="system prompt")
        self.shots = to.Demos(k=2, name="shots")

    def forward(self, review):
        return to.ops.llm_call(self.instructions, review, demos=self.shots, llm=JointModel())


def accuracy(agent, rows):
    with to.no_trace():
        return sum(agent(to.node(x)).data == y for x, y in rows) / len(rows)


def minibatch(agent, rows):
    for x, y in rows:
        out = agent(to.node(x))
        out.backward(to.Feedback(f"expected {y}", score=float(out.data == y)))


def test_the_joint_search_finds_what_neither_part_finds_alone():
    alone = Agent()
    minibatch(alone, TRAIN[:2])
    BootstrapFewShot([alone.shots], trainset=TRAIN, seed=0).step(evaluate=lambda: accuracy(alone, VAL))
    assert accuracy(alone, VAL) <= 0.5                      # demonstrations alone: the first label copied

    agent = Agent()
    llm = ScriptedLLM([{"reasoning": "be brief", "suggestion": {"instructions": ONE_WORD}},
                       {"reasoning": "again", "suggestion": {"instructions": "Read it twice."}}])
    optimizer = MIPRO(agent.parameters(), llm=llm, trainset=TRAIN, num_instructions=2, num_demo_sets=2,
                      trials=6, seed=0)
    minibatch(agent, TRAIN[:2])
    report = optimizer.step(evaluate=lambda: accuracy(agent, VAL))
    assert report.baseline_score == 0.0 and report.chosen is not None
    assert agent.instructions.data == ONE_WORD and len(agent.shots.data) == 2
    assert accuracy(agent, VAL) == 1.0
    assert report.updated.keys() == {"instructions", "shots"}
    assert len(report.candidates) <= 6 and len(llm.calls) == 2   # instructions proposed, not installed one by one


def test_ties_keep_the_incumbent_and_bad_use_is_named():
    agent = Agent()
    agent.instructions.data, agent.shots.data = ONE_WORD, TRAIN[:2]
    llm = ScriptedLLM([{"reasoning": "x", "suggestion": {"instructions": "Answer in one word please."}}])
    optimizer = MIPRO(agent.parameters(), llm=llm, trainset=TRAIN, num_instructions=1, trials=4, seed=1)
    minibatch(agent, TRAIN[2:])
    report = optimizer.step(evaluate=lambda: accuracy(agent, VAL))   # everything scores 1.0
    assert report.chosen is None and agent.instructions.data == ONE_WORD
    assert MIPRO(agent.parameters(), llm=ScriptedLLM([])).step().skipped.startswith("MIPRO needs step(evaluate=")
    with pytest.raises(TypeError, match="MIPRO searches instructions"):
        MIPRO([to.Parameter(0.5, bounds=(0, 1))])
