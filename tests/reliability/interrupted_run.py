"""A training run in its own process that can be caught in the middle of a step, for the
SIGKILL / SIGTERM tests in test_run_faults.py.

python -m tests.reliability.interrupted_run RUN_DIR [--block-at N --block-in optimizer|checkpoint] [--resume]

With ``--block-at N`` the run stops inside step N and waits: in ``optimizer`` after the first of
its two parameters got step N's value (the agent then holds a half-applied update), in
``checkpoint`` after step N's checkpoint was written to its temp file but before it replaced
``checkpoint.json``. It then creates RUN_DIR/blocked (so the test knows a step is in flight) and
waits until RUN_DIR/release exists (at most a minute, so nothing hangs for ever). The last line
printed is the result: steps, reason, both parameters and the best validation score.
"""
import json
import os
import sys
import time
from pathlib import Path

import trace_opt as to
from trace_opt.graph import serialize
from trace_opt.optim.base import Optimizer
from trace_opt.train import Trainer

from ..train.fakes import answer

# The values the fake optimizer gives (prompt, tail) at each step, in turn.
SCRIPT = [("shout", "!"), ("whisper", "?"), ("shout", "!!"), ("repeat", "."), ("shout loud", "!")]
INITIAL = ("repeat", ".")
TRAIN = [("Hello There", "HELLO THERE!"), ("Good Morning", "GOOD MORNING!"), ("Nice Day", "NICE DAY!"),
         ("See You", "SEE YOU!")]
VAL = [("Thanks A Lot", "THANKS A LOT!"), ("Bye Now", "BYE NOW!")]
EPOCHS = 2  # batch size 1: 8 steps


class Shouter(to.Module):
    """Two parameters, so that a half-applied update is visible: the prompt and the tail."""

    def __init__(self):
        super().__init__()
        self.prompt = to.Parameter(INITIAL[0], description="how to answer")
        self.tail = to.Parameter(INITIAL[1], description="what to end the answer with")

    def forward(self, question):
        return answer(self.prompt, question) + self.tail


def exact(output, target):
    return to.Feedback(text="right" if output == target else f"expected {target!r}", score=float(output == target))


class Gate:
    """Where the run waits, telling the test through files in the run directory."""

    def __init__(self, run_dir, step):
        self.run_dir, self.step = Path(run_dir), step

    def wait(self):
        (self.run_dir / "blocked").write_text(str(os.getpid()))
        deadline = time.monotonic() + 60
        while not (self.run_dir / "release").exists() and time.monotonic() < deadline:
            time.sleep(0.01)


class TwoStepOptimizer(Optimizer):
    """A scripted fake: sets the prompt, then the tail, to SCRIPT's values (waiting at the gate between)."""

    def __init__(self, params, gate=None):
        super().__init__(params, {})
        self.steps, self.gate = 0, gate

    def step(self):
        prompt, tail = SCRIPT[self.steps % len(SCRIPT)]
        self.steps += 1
        first, second = self.parameters()
        first.data = prompt
        if self.gate is not None and self.gate.step == self.steps:
            self.gate.wait()
        second.data = tail

    def state_dict(self):
        return {**super().state_dict(), "steps": self.steps}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.steps = state["steps"]


class _BlockingReplace:
    """``os`` for serialize.py, except that the checkpoint's os.replace waits at the gate first."""

    def __init__(self, gate, trainer):
        self.gate, self.trainer = gate, trainer

    def __getattr__(self, name):
        return getattr(os, name)

    def replace(self, source, target):
        if Path(target).name == "checkpoint.json" and self.trainer.step_count == self.gate.step:
            self.gate.wait()
        os.replace(source, target)


def main(argv):
    run_dir = argv[0]
    block_at = int(argv[argv.index("--block-at") + 1]) if "--block-at" in argv else None
    block_in = argv[argv.index("--block-in") + 1] if "--block-in" in argv else "optimizer"
    gate = Gate(run_dir, block_at) if block_at is not None else None
    agent = Shouter()
    opt = TwoStepOptimizer(agent.parameters(), gate if block_in == "optimizer" else None)
    trainer = Trainer(agent, opt, TRAIN, VAL, exact, batch_size=1, epochs=EPOCHS, checkpoint_dir=run_dir,
                      progress=False, seed=5)
    if gate is not None and block_in == "checkpoint":
        serialize.os = _BlockingReplace(gate, trainer)
    result = trainer.resume() if "--resume" in argv else trainer.fit()
    print(json.dumps([result.steps, result.reason, agent.prompt.data, agent.tail.data, result.best_val_score]))


if __name__ == "__main__":
    main(sys.argv[1:])
