"""The search's pure parts on hand-made numbers: fronts, parent draws, ranks, cost choices, merges."""
import random

import pytest

from trace_opt.train import pareto_front as pf
from trace_opt.train.candidates import Pool
from trace_opt.train.merge import common_ancestor, merge

MATRIX = {  # candidate -> score on each of 4 validation instances
    0: [1, 0, 0, 0],   # wins instance 0, but 1 wins it too and more: dominated
    1: [1, 1, 0, 0],
    2: [0, 0, 1, 0],
    3: [0, 0, 1, 0],   # wins exactly what its elder 2 wins: dropped
    4: [0, 0, 0, 0],   # only "wins" the instance nobody solves
}


def test_front_keeps_each_instance_winner_and_drops_the_dominated():
    assert pf.instance_winners(MATRIX) == [{0, 1}, {1}, {2, 3}, {0, 1, 2, 3, 4}]
    assert pf.instance_front(MATRIX) == {1: 3, 2: 2}


def test_front_follows_the_pool_as_it_grows():
    grown = {**MATRIX, 5: [1, 1, 1, 0]}
    assert pf.instance_front(grown) == {5: 4}
    specialist = {**grown, 6: [0, 0, 0, 0.5]}  # the only one scoring on the last instance
    assert pf.instance_front(specialist) == {5: 3, 6: 1}


def test_front_needs_rows_of_one_length():
    with pytest.raises(ValueError, match="differ in length"):
        pf.instance_front({0: [1, 0], 1: [1]})


def test_parents_are_drawn_in_proportion_to_the_instances_they_win():
    rng, draws = random.Random(7), 8000
    counts = {1: 0, 2: 0}
    for _ in range(draws):
        counts[pf.sample_parent({1: 3, 2: 1}, rng)] += 1
    assert abs(counts[1] / draws - 0.75) < 0.02
    with pytest.raises(ValueError, match="front is empty"):
        pf.sample_parent({}, rng)


def test_pareto_ranks_sort_by_domination():
    objectives = {"a": (0.9, -3.0), "b": (0.8, -1.0), "c": (0.7, -2.0), "d": (0.5, -5.0)}
    assert pf.pareto_ranks(objectives) == [["a", "b"], ["c"], ["d"]]


def test_cheapest_within_epsilon_and_best_within_a_cost_cap():
    points = {"big": (0.90, 10.0), "mid": (0.88, 4.0), "small": (0.60, 1.0)}
    assert pf.cheapest_within(points, 0.0) == "big"
    assert pf.cheapest_within(points, 0.05) == "mid"
    assert pf.best_within_cost(points, 5.0) == "mid"
    assert pf.best_within_cost(points, 1.0) == "small"
    assert pf.best_within_cost(points, 0.5) is None


def _pool():
    pool = Pool()
    pool.add({"case": "same", "mark": ""})                                          # 0: the seed
    pool.add({"case": "upper", "mark": ""}, parents=[0], origin="mutation")         # 1
    pool.add({"case": "same", "mark": "!"}, parents=[0], origin="mutation")         # 2
    pool.add({"case": "lower", "mark": "!"}, parents=[2], origin="mutation")        # 3
    return pool


def test_merge_takes_each_lineage_its_own_change():
    found = merge(_pool(), 1, 2)
    assert found.ancestor == 0
    assert found.values == {"case": "upper", "mark": "!"} and found.taken == {"case": 1, "mark": 2}


def test_no_merge_of_a_descendant_or_of_overlapping_changes():
    pool = _pool()
    assert common_ancestor(pool, 2, 3) is None and merge(pool, 2, 3) is None  # 3 descends from 2
    assert merge(pool, 1, 3) is None  # both changed case since the seed
    pool[1].scores, pool[3].scores = [1.0], [0.5]  # where both changed one, the stronger's value is taken
    overlapping = merge(pool, 1, 3, disjoint_only=False)
    assert overlapping.values == {"case": "upper", "mark": "!"} and overlapping.taken == {"case": 1, "mark": 3}
    pool[3].scores = [2.0]  # ... so when that is the parent holding every change, there is nothing to merge
    assert merge(pool, 1, 3, disjoint_only=False) is None


def test_pool_round_trips_through_json():
    pool = _pool()
    pool[1].scores = [1.0, 0.0]
    again = Pool.from_json(pool.to_json())
    assert again.to_json() == pool.to_json()
    assert again.find({"case": "upper", "mark": ""}).id == 1 and again.ancestors(3) == [3, 2, 0]
