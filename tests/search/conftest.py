"""A black-box objective over a bounded float, an integer and a choice, and the ask/tell loop."""
import pytest

import trace_opt as to


class Blackbox(to.Module):
    """Only a score comes out: the best is x = 0.7, k = 6, c = "b" (score 0.3)."""

    def __init__(self):
        super().__init__()
        self.x = to.Parameter(0.1, bounds=(0.0, 1.0), name="x", description="a mixing weight")
        self.k = to.Parameter(1, bounds=(0, 10), name="k")
        self.c = to.Parameter("a", choices=["a", "b", "c"], name="c")

    @staticmethod
    def forward_at(x, k, c):
        return -((x - 0.7) ** 2) - 0.01 * (k - 6) ** 2 + (0.3 if c == "b" else 0.0)

    def forward(self):
        return to.bundle()(Blackbox.forward_at)(self.x, self.k, self.c)


BEST = 0.3


def run(opt, box, rounds):
    """Evaluate, send the score backward, step; returns the settings evaluated, in order."""
    seen = []
    for _ in range(rounds):
        out = box()
        seen.append((box.x.data, box.k.data, box.c.data))
        opt.zero_feedback()
        out.backward(to.Feedback("scored", score=out.data))
        opt.step()
    return seen


@pytest.fixture
def box():
    return Blackbox()


@pytest.fixture(autouse=True)
def _quiet_optuna():
    try:
        import optuna
    except ImportError:  # only the Optuna tests need it; they skip themselves
        yield
        return
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    yield
    optuna.logging.set_verbosity(level)
