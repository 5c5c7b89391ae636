"""What the run-fault tests share: a scripted training run and the checks of what it kept."""
from pathlib import Path

from trace_opt.train import Trainer, read_events
from trace_opt.train.checkpoint import load_checkpoint

from ..train.fakes import TRAIN, VAL, Echo, ScriptedOptimizer, exact

PLAIN = ["shout", "whisper", "shout please", "shout"]  # the scripted values of the in-process runs


def make(tmp_path, values=PLAIN, guide=exact, agent=None, **options):
    agent = agent or Echo()
    opt = ScriptedOptimizer(agent.parameters(), values)
    options = {"batch_size": 2, "epochs": 2, "progress": False, **options}
    return agent, Trainer(agent, opt, TRAIN, VAL, guide, checkpoint_dir=tmp_path, **options)


def assert_intact(run_dir, step, temps=0):
    """The checkpoint loads, is at ``step``, and holds exactly the parameters logged for that step
    (never a mix of two steps); ``temps``: temp files a kill may have left (a failed write leaves none)."""
    state = load_checkpoint(run_dir)
    assert state["step"] == step and len(state["history"]) == step
    logged = [e for e in read_events(run_dir) if e["event"] == "step" and e["step"] == step]
    assert state["agent"] == logged[-1]["parameters"]
    assert len(list(Path(run_dir).glob(".*.tmp"))) == temps
    return state


def pair(state):
    return state["agent"]["prompt"], state["agent"]["tail"]
