"""MIPRO against the real local model, through the Trainer: instruction proposals (OptoPrime on
SmolLM2-135M) x demonstration sets, combinations searched with Optuna's TPE on validation. The
HTTP traffic was recorded from llama.cpp serving SmolLM2-135M (scripts/record.sh
tests/search/test_recorded_mipro.py) and is replayed from cassettes/test_recorded_mipro/. What is
shown: the joint search lifts held-out accuracy from the instruction alone, and the Trainer keeps
only what beat validation."""
import pytest

import trace_opt as to
from agents.few_shot import FewShotAgent
from trace_opt.train import Trainer

from .test_recorded_few_shot import INSTRUCTIONS, ROWS, accuracy, correct

TRAIN = [(r["sentence"], r["city"]) for r in ROWS[:6]]
VAL = [(r["sentence"], r["city"]) for r in ROWS[12:18]]
HELD_OUT = ROWS[24:32]


def guide(output, target):
    right = correct(output, target)
    return to.Feedback("Correct." if right else f"Wrong: expected {target!r}. Reply with the city name only.",
                       score=float(right))


@pytest.mark.vcr
def test_joint_search_through_the_trainer_raises_held_out_accuracy(local_llm):
    agent = FewShotAgent(local_llm, INSTRUCTIONS, k=3)
    before = accuracy(agent, HELD_OUT)
    optimizer = to.optim.MIPRO([agent.instructions, agent.shots], llm=local_llm, trainset=TRAIN,
                               num_instructions=2, num_demo_sets=3, trials=4, seed=0)
    trainer = Trainer(agent, optimizer, TRAIN, VAL, guide, batch_size=3, epochs=1, progress=False)
    result = trainer.fit()
    after = accuracy(agent, HELD_OUT)
    assert result.steps == 2 and before == 0.0 and result.best_val_score > 0.0
    assert after >= 0.5, (before, after, agent.shots.data, agent.instructions.data)
    assert len(agent.shots.data) == 3 and all(isinstance(d[1], str) for d in agent.shots.data)
    assert trainer.account.calls > 0
