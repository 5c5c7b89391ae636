"""RandomSearch: uniform draws within bounds and over choices, seeded, best kept."""

import pytest

import trace_opt as to
from trace_opt.optim import RandomSearch

from .conftest import BEST, Blackbox, run


def test_random_search_improves_within_bounds_and_keeps_the_best(box):
    start = box().data
    opt = RandomSearch(box.parameters(), seed=0)
    seen = run(opt, box, 60)
    assert seen[0] == (0.1, 1, "a")  # the initial values are evaluated first
    assert all(0.0 <= x <= 1.0 and type(k) is int and 0 <= k <= 10 and c in "abc" for x, k, c in seen)
    assert {c for _, _, c in seen} == {"a", "b", "c"} and len({k for _, k, _ in seen}) >= 8
    assert opt.best_score > start + 0.7 and opt.best_score > BEST - 0.05
    opt.apply_best()
    assert box().data == opt.best_score and opt.best_values()[box.c] == "b"


def test_the_same_seed_gives_the_same_settings():
    first, second = Blackbox(), Blackbox()
    seen = run(RandomSearch(first.parameters(), seed=3), first, 10)
    assert seen == run(RandomSearch(second.parameters(), seed=3), second, 10) and len(set(seen)) == 10


def test_state_dict_round_trip_continues_the_same_draws(box):
    opt = RandomSearch(box.parameters(), seed=1)
    run(opt, box, 5)
    saved, values = opt.state_dict(), box.state_dict()  # the values to evaluate next are the module's
    expected = run(opt, box, 5)
    other = Blackbox()
    other.load_state_dict(values)
    resumed = RandomSearch(other.parameters(), seed=99)
    resumed.load_state_dict(saved)
    assert run(resumed, other, 5) == expected and resumed.best_score == opt.best_score
    assert resumed.search["evaluations"] == 10


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match=r"bounds.*'unbounded'"):
        RandomSearch([to.Parameter(0.5, name="unbounded")])
    with pytest.raises(ValueError, match=r"bounds.*'half'"):
        RandomSearch([to.Parameter(0.5, bounds=(0.0, None), name="half")])
    with pytest.raises(ValueError, match="empty parameter list"):
        RandomSearch([])
    with pytest.raises(TypeError, match=r"'prompt' is text"):
        RandomSearch([to.Parameter("Answer.", name="prompt")])


def test_a_step_without_a_score_warns_and_changes_nothing(box):
    opt = RandomSearch(box.parameters(), seed=0)
    (box.x * 1).backward("no number in this feedback")
    with pytest.warns(RuntimeWarning, match="no score arrived"):
        assert opt.step().score is None
    assert (box.x.data, box.k.data, box.c.data) == (0.1, 1, "a") and opt.best_score is None


def test_importing_trace_opt_and_the_random_search_does_not_import_optuna():
    import subprocess
    import sys

    code = "import sys, trace_opt as to; to.optim.RandomSearch; to.optim.LLMWarmStartSearch; print('optuna' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
