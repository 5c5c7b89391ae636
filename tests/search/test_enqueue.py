"""Settings put in a search's queue (an LLM's proposals, a user's guess) are evaluated next."""
import pytest

import trace_opt as to
from trace_opt.optim import OptunaSearch, RandomSearch

from .conftest import run


@pytest.mark.parametrize("search", [RandomSearch, OptunaSearch])
def test_enqueued_settings_come_next_and_are_validated(box, search):
    if search is OptunaSearch:
        pytest.importorskip("optuna")
    opt = search(box.parameters(), seed=0)
    opt.enqueue({box.x: 0.7, box.k: 6, box.c: "b"})
    opt.enqueue({box.c: "c"})  # the rest is drawn
    seen = run(opt, box, 3)
    assert seen[1] == (0.7, 6, "b") and seen[2][2] == "c"
    if search is OptunaSearch:
        assert opt.study.trials[1].params == {"x": 0.7, "k": 6, "c": "b"}
    with pytest.raises(ValueError, match=r"enqueue: bad value for 'k'.*outside bounds"):
        opt.enqueue({box.k: 11})
    with pytest.raises(ValueError, match=r"enqueue: bad value for 'c'.*not one of the choices"):
        opt.enqueue({box.c: "z"})
    with pytest.raises(ValueError, match="'stranger' is not one of its parameters"):
        opt.enqueue({to.Parameter(0.5, bounds=(0, 1), name="stranger"): 0.5})
