"""``to.compile`` with DSPy-style rows and metric against the real local model: ``Example`` rows
with their inputs marked, a ``(gold, pred, trace)`` metric returning (score, feedback), and a
trained copy handed back while the original agent stays as it was. The HTTP traffic was recorded
from llama.cpp serving SmolLM2-135M (scripts/record.sh tests/train/test_recorded_compile.py) and
is replayed from cassettes/test_recorded_compile/."""
import json
from pathlib import Path

import pytest

import trace_opt as to
from agents.few_shot import FewShotAgent

ROWS = [to.Example(sentence=r["sentence"], city=r["city"]).with_inputs("sentence")
        for r in map(json.loads, (Path(__file__).resolve().parents[2] / "examples" / "data" / "cities.jsonl")
                     .read_text().splitlines())]
TRAIN, VAL, HELD_OUT = ROWS[:6], ROWS[12:18], ROWS[24:32]
INSTRUCTIONS = "Name the city the sentence mentions. Reply with the city name only."


def city_metric(gold, pred, trace=None):
    """DSPy's metric shape: the gold row, the answer as a Prediction (pred.city), the trace."""
    right = pred.city.strip().strip(".").strip() == gold.city
    return float(right), "right" if right else f"expected {gold.city}, answered {pred.city!r}"


def held_out_accuracy(agent):
    with to.no_trace():
        return sum(city_metric(row, to.Prediction(city=agent(row.sentence).data))[0] for row in HELD_OUT) / len(HELD_OUT)


@pytest.mark.vcr
def test_compile_trains_a_copy_on_example_rows_with_a_dspy_metric(local_llm, tmp_path):
    original = FewShotAgent(local_llm, INSTRUCTIONS, k=3)
    trained = to.compile(original, trainset=TRAIN, valset=VAL, guide=city_metric, batch_size=3, progress=False,
                         checkpoint_dir=tmp_path / "run",
                         optimizer=lambda params: to.optim.BootstrapFewShot(
                             [p for p in params if p.kind == "demos"], trainset=TRAIN, num_candidates=3, seed=0))
    assert original.shots.data == [] and trained.shots.data                       # the original untouched
    assert all(demo[0] in {row.sentence for row in ROWS} for demo in trained.shots.data)
    before, after = held_out_accuracy(original), held_out_accuracy(trained)
    assert trained.train_result.best_val_score > 0.0
    assert before == 0.0 and after >= 0.5, (before, after, trained.shots.data)
    steps = [e for e in to.train.read_events(tmp_path / "run") if e["event"] == "step"]
    assert len(steps) == 2 and steps[0]["accepted"]
