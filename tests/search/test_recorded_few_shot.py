"""BootstrapFewShot against the real local model: demonstrations from labelled rows, then from
the traces of rollouts that scored well. The HTTP traffic was recorded from llama.cpp serving
SmolLM2-135M (scripts/record.sh tests/search/test_recorded_few_shot.py) and is replayed from
cassettes/test_recorded_few_shot/. The instruction alone gets no held-out row right (the model
answers with a sentence); chosen demonstrations teach it the format."""
import json
from pathlib import Path

import pytest

import trace_opt as to
from agents.few_shot import FewShotAgent

ROWS = [json.loads(line) for line in (Path(__file__).resolve().parents[2] / "examples" / "data" / "cities.jsonl")
        .read_text().splitlines()]
TRAIN, VAL, HELD_OUT = ROWS[:6], ROWS[12:18], ROWS[24:32]
INSTRUCTIONS = "Name the city the sentence mentions. Reply with the city name only."


def correct(answer, city):
    return answer.strip().strip(".").strip() == city


def accuracy(agent, rows):
    with to.no_trace():
        return sum(correct(agent(to.node(r["sentence"])).data, r["city"]) for r in rows) / len(rows)


@pytest.mark.vcr
def test_demonstrations_from_rows_then_from_traces_raise_held_out_accuracy(local_llm):
    agent = FewShotAgent(local_llm, INSTRUCTIONS, k=3)
    before = accuracy(agent, HELD_OUT)
    optimizer = to.optim.BootstrapFewShot([agent.shots], trainset=[(r["sentence"], r["city"]) for r in TRAIN],
                                          num_candidates=3, seed=0)

    def minibatch(rows):
        optimizer.zero_feedback()
        for row in rows:
            out = agent(to.node(row["sentence"]))
            out.backward(to.Feedback("right" if correct(out.data, row["city"]) else f"expected {row['city']}",
                                     score=float(correct(out.data, row["city"]))))

    minibatch(TRAIN[:3])
    first = optimizer.step(evaluate=lambda: accuracy(agent, VAL))
    assert first.chosen is not None and first.candidates[first.chosen].score > first.baseline_score
    minibatch(ROWS[6:10])                       # rows of no demonstration yet: answered with the new ones
    second = optimizer.step(evaluate=lambda: accuracy(agent, VAL))
    traced = {demo: score for demo, score in optimizer.state[agent.shots]["pool"].items() if score is not None}
    assert traced and all(score == 1.0 for score in traced.values())   # well-scored calls, read from the trace
    assert all(demo[0] in {r["sentence"] for r in ROWS[6:10]} for demo in traced)
    after = accuracy(agent, HELD_OUT)
    assert before == 0.0 and after >= 0.5, (before, after, agent.shots.data, second)
