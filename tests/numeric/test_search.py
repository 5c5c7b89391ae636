"""SPSA, RankingZO and ChoiceSearch: ask/tell inside the usual loop, from scores or preferences only."""
import copy
import warnings

import pytest

import trace_opt as to
from trace_opt.optim import SPSA, ChoiceSearch, RankingZO


class Blackbox(to.Module):
    """A workflow whose only signal is a score: its optimum is x = 0.7, y = 0.2, k = 6."""

    def __init__(self):
        super().__init__()
        self.x = to.Parameter(0.1, bounds=(0.0, 1.0))
        self.y = to.Parameter(0.9, bounds=(-1.0, 1.0))
        self.k = to.Parameter(1, bounds=(0, 10))

    def forward(self):
        score = to.bundle()(lambda x, y, k: -((x - 0.7) ** 2) - (y - 0.2) ** 2 - 0.01 * (k - 6) ** 2)
        return score(self.x, self.y, self.k)


def _run(opt, box, rounds, seen=None):
    for _ in range(rounds):
        out = box()
        if seen is not None:
            seen.append((box.x.data, box.y.data, box.k.data))
        opt.zero_feedback()
        out.backward(to.Feedback("scored", score=out.data))
        opt.step()
    return out.data


def test_spsa_climbs_a_blackbox_score_within_bounds():
    box = Blackbox()
    start = box().data
    opt = SPSA(box.parameters(), lr=0.2, seed=0)
    seen = []
    _run(opt, box, 300, seen)
    assert all(0.0 <= x <= 1.0 and -1.0 <= y <= 1.0 and isinstance(k, int) and 0 <= k <= 10 for x, y, k in seen)
    estimate = {p.name: v for p, v in opt.estimate().items()}
    assert abs(estimate["x"] - 0.7) < 0.05 and abs(estimate["y"] - 0.2) < 0.05 and abs(estimate["k"] - 6) < 1.5
    assert opt.best_score > start + 0.5
    opt.apply_best()
    assert box().data == opt.best_score


def test_spsa_alternates_plus_and_minus_around_its_estimate():
    x = to.Parameter(0.5, bounds=(0.0, 1.0), name="x")
    opt = SPSA([x], lr=0.1, perturbation=0.1, seed=1)
    values = []
    for score in (0.0, 1.0, 0.5):
        values.append(x.data)
        opt.zero_feedback()
        (x * 1).backward(score)
        opt.step()
    values.append(x.data)
    assert values[0] == 0.5 and values[1] + values[2] == pytest.approx(1.0) and abs(values[1] - 0.5) == pytest.approx(0.1)


def test_ranking_zo_improves_from_preferences_alone():
    box = Blackbox()
    start = box().data
    opt = RankingZO([box.x, box.y], seed=3)
    previous = None
    for _ in range(300):
        out = box()
        opt.zero_feedback()
        out.backward("no score here, only a person's judgement")  # text only: RankingZO never reads a number
        if opt.compares_next:
            opt.step(prefer="second" if out.data > previous else "first")
        else:
            opt.step()
        previous = out.data
    estimate = {p.name: v for p, v in opt.estimate().items()}
    assert abs(estimate["x"] - 0.7) < 0.15 and abs(estimate["y"] - 0.2) < 0.15  # from 0.6 and 0.7 away
    assert opt.search["comparisons"] == 149 and box().data > start
    assert opt.compares_next  # 300 steps: the start, 149 pairs, the first half of the next pair
    with pytest.raises(ValueError, match="takes 'first' or 'second'"):
        opt.step(prefer="third")
    opt.step(prefer=1)
    with pytest.raises(ValueError, match="closes a pair"):
        opt.step(prefer="first")


def test_ranking_zo_uses_scores_as_rankings_when_given():
    box = Blackbox()
    opt = RankingZO([box.x, box.y], seed=0)
    _run(opt, box, 300)
    estimate = {p.name: v for p, v in opt.estimate().items()}
    assert abs(estimate["x"] - 0.7) < 0.15 and abs(estimate["y"] - 0.2) < 0.15


def test_choice_search_finds_the_best_combination():
    style = to.Parameter("short", choices=["short", "long", "bullets"], name="style")
    verbose = to.Parameter(False, name="verbose")
    value = {"short": 0.2, "long": 0.1, "bullets": 0.6}
    quality = to.bundle()(lambda s, v: value[s] + (0.3 if v else 0.0))
    opt = ChoiceSearch([style, verbose], seed=0)
    for _ in range(8):
        out = quality(style, verbose)
        opt.zero_feedback()
        out.backward(out.data)
        opt.step()
    assert opt.best_score == pytest.approx(0.9)
    assert opt.incumbent() == (2, 1)
    opt.apply_best()
    assert (style.data, verbose.data) == ("bullets", True)


def test_a_step_without_a_score_warns_and_changes_nothing():
    x = to.Parameter(0.5, bounds=(0.0, 1.0), name="x")
    opt = SPSA([x], seed=0)
    (x + 0).backward("only words")
    with pytest.warns(RuntimeWarning, match="no score arrived"):
        assert opt.step().score is None
    assert x.data == 0.5 and opt.search["evaluations"] == 0


def test_feedback_left_over_from_the_last_step_is_not_counted_again():
    x = to.Parameter(0.5, bounds=(0.0, 1.0), name="x")
    opt = SPSA([x], seed=0)
    (x + 0).backward(1.0)
    assert opt.step().score == 1.0
    (x + 0).backward(3.0)  # zero_feedback forgotten: the 1.0 is still on x
    assert opt.step().score == 3.0
    out = x + 0
    out.backward(2.0)
    x.feedback.append(copy.copy(x.feedback[-1]))  # the same backward reaching x twice counts once
    assert opt.read_score() == 2.0


def test_search_needs_bounded_numbers_and_choices():
    with pytest.raises(ValueError, match=r"SPSA needs finite bounds=\(low, high\) on number parameter 'free'"):
        SPSA([to.Parameter(1.0, name="free")])
    with pytest.raises(TypeError, match="RankingZO searches number parameters; 'p' is text"):
        RankingZO([to.Parameter("hi", name="p")])
    with pytest.raises(TypeError, match="ChoiceSearch searches categorical parameters; 'n' is number"):
        ChoiceSearch([to.Parameter(1.0, bounds=(0, 2), name="n")])


@pytest.mark.parametrize("make", [lambda ps: SPSA(ps, seed=4), lambda ps: RankingZO(ps[:2], seed=4)])
def test_state_dict_round_trip_continues_identically(make):
    box = Blackbox()
    opt = make(box.parameters())
    _run(opt, box, 7)
    values, saved = box.state_dict(), copy.deepcopy(opt.state_dict())
    later = []
    _run(opt, box, 6, later)

    again = Blackbox()
    again.load_state_dict(values)
    resumed = make(again.parameters())
    resumed.load_state_dict(saved)
    replay = []
    _run(resumed, again, 6, replay)
    assert replay == later
    with pytest.raises(ValueError, match="lacks 'search'"):
        resumed.load_state_dict({"state": {}, "param_groups": []})


def test_choice_search_state_round_trip():
    def make():
        a = to.Parameter("a", choices=["a", "b", "c", "d"], name="a")
        b = to.Parameter(1, choices=[1, 2, 3], name="b")
        return [a, b], ChoiceSearch([a, b], repeats=2, seed=5)

    def run(params, opt, rounds):
        seen = []
        for _ in range(rounds):
            seen.append(tuple(p.data for p in params))
            out = to.bundle()(lambda a, b: "abcd".index(a) * b)(*params)
            opt.zero_feedback()
            out.backward(float(out.data))
            opt.step()
        return seen

    params, opt = make()
    run(params, opt, 5)
    values, saved = [p.data for p in params], copy.deepcopy(opt.state_dict())
    later = run(params, opt, 6)
    params2, opt2 = make()
    for p, v in zip(params2, values):
        p.data = v
    opt2.load_state_dict(saved)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert run(params2, opt2, 6) == later
