"""A Trainer run with OptoPrime on the real local model (replayed from cassettes): the model's
proposals are scored on validation, one that lifts it is kept and none that does not is."""
import pytest

import trace_opt as to
from trace_opt.train import Trainer, read_events

from .fakes import TRAIN, VAL, Echo


def guide(output, target):
    if output == target:
        return to.Feedback(text="Correct.", score=1.0)
    return to.Feedback(text=f"Wrong: expected {target!r}, got {output!r}. Set the prompt to: shout", score=0.0)


@pytest.mark.vcr
def test_recorded_training_keeps_only_proposals_that_improve_validation(local_llm, tmp_path):
    agent = Echo()
    opt = to.optim.OptoPrime(agent.parameters(), llm=local_llm, num_candidates=3)
    trainer = Trainer(agent, opt, TRAIN, VAL, guide, batch_size=2, epochs=5, checkpoint_dir=tmp_path, progress=False)
    before = trainer.evaluate(VAL)
    result = trainer.fit()
    steps = [e for e in read_events(tmp_path) if e["event"] == "step"]
    assert before == 0.0 and result.best_val_score == 1.0, [s["parameters"] for s in steps]
    assert "shout" in agent.prompt.data
    best = before
    for step in steps:  # a kept change raised validation; a step that kept nothing left it where it was
        assert (step["val_score"] > best) == step["accepted"], [(s["parameters"], s["val_score"]) for s in steps]
        best = max(best, step["val_score"])
    losers = [p for s in steps for p in s["proposals"] if p["reason"] == "did not beat the current values on evaluation"]
    assert losers and all(p["value"] != agent.prompt.data for p in losers)
    assert trainer.evaluate(VAL) == 1.0  # the kept parameters are the best ones
