"""A trainer factory for the CLI tests (trace-opt run tests/train/factory.py:make_trainer)."""
from trace_opt.train import Trainer

from .fakes import TRAIN, VAL, Echo, ScriptedOptimizer, exact


def make_trainer(run_dir):
    agent = Echo()
    return Trainer(agent, ScriptedOptimizer(agent.parameters(), ["shout"]), TRAIN, VAL, exact, batch_size=2,
                   checkpoint_dir=run_dir, progress=False)
