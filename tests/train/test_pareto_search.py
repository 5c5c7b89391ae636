"""ParetoSearch's loop with a scripted fake mutation operator (tests/train/fakes.py, not an LLM):
the gate, acceptance, the merge of two lineages, rollout counting and the result's views."""
import pytest

from trace_opt.train import ParetoSearch, read_events

from .fakes import STYLE_ROWS, ScriptedMutation, Styler, exact


def search(script, tmp_path=None, **options):
    agent = Styler()
    options = {"minibatch_size": len(STYLE_ROWS), "progress": False, "seed": 0, **options}
    return agent, ParetoSearch(agent, ScriptedMutation(agent, script), STYLE_ROWS, STYLE_ROWS, exact,
                               checkpoint_dir=tmp_path, **options)


def test_the_gate_rejects_a_child_that_loses_on_the_minibatch(tmp_path):
    agent, runner = search([{"mark": "?"}], tmp_path, max_iterations=1)
    result = runner.fit()
    assert len(result.pool) == 1 and result.best.id == 0   # only the seed
    n = len(STYLE_ROWS)
    assert result.rollouts == n + n + n                    # seed validation, parent and child minibatch: no validation
    iteration = [e for e in read_events(tmp_path) if e["event"] == "iteration"][0]
    assert iteration["accepted"] is False and "not above its parent's" in iteration["reason"]
    assert (agent.case.data, agent.mark.data) == ("same", "")


def test_two_lineages_are_merged_into_the_best_candidate(tmp_path):
    agent, runner = search([{"case": "upper"}, {"mark": "!"}], tmp_path, max_iterations=3, seed=4)
    result = runner.fit()
    origins = [(c.origin, c.parents, c.values) for c in result.pool]
    assert origins == [("seed", [], {"case": "same", "mark": ""}),
                       ("mutation", [0], {"case": "upper", "mark": ""}),
                       ("mutation", [0], {"case": "same", "mark": "!"}),
                       ("merge", [1, 2], {"case": "upper", "mark": "!"})]
    assert result.pool[3].scores == [1, 1, 1, 0, 0, 0, 0, 0]
    assert result.best.id == 3 and result.best_val_score == pytest.approx(3 / 8)
    assert (agent.case.data, agent.mark.data) == ("upper", "!")  # the agent holds the best
    assert result.instance_front() == {0: 1, 1: 2, 2: 2, 3: 3}   # each wins rows of its own
    n = len(STYLE_ROWS)  # seed validation; two mutations (parent, child, validation); the merge (2 parents too)
    assert result.rollouts == n + 2 * 3 * n + 4 * n
    candidates = [e for e in read_events(tmp_path) if e["event"] == "candidate"]
    assert [e["changed"] for e in candidates] == [[], ["case"], ["mark"], ["mark"]]  # against the first parent


def test_a_child_seen_before_costs_no_rollouts():
    agent, runner = search([{"case": "upper"}, {"case": "upper"}], None, max_iterations=2, merge=False, seed=1)
    result = runner.fit()
    assert len(result.pool) == 2
    n = len(STYLE_ROWS)
    # seed val; it 1: parent + child minibatch + val; it 2: the parent's minibatch, then a child already in the pool
    assert result.rollouts == n + 3 * n + n


def test_max_rollouts_is_never_passed():
    n = len(STYLE_ROWS)
    agent, runner = search([{"case": "upper"}, {"mark": "!"}, {"case": "lower"}], None, max_rollouts=4 * n + 2)
    result = runner.fit()
    assert result.reason == "budget" and result.rollouts <= 4 * n + 2


def test_bad_settings_are_named():
    agent = Styler()
    opt = ScriptedMutation(agent, [{}])
    with pytest.raises(ValueError, match="needs a limit"):
        ParetoSearch(agent, opt, STYLE_ROWS, STYLE_ROWS, exact)
    with pytest.raises(ValueError, match="needs val rows"):
        ParetoSearch(agent, opt, STYLE_ROWS, [], exact, max_iterations=1)
    with pytest.raises(ValueError, match="selection must be one of"):
        ParetoSearch(agent, opt, STYLE_ROWS, STYLE_ROWS, exact, max_iterations=1, selection="best")
    with pytest.raises(ValueError, match="cannot even validate the seed"):
        ParetoSearch(agent, opt, STYLE_ROWS, STYLE_ROWS, exact, max_rollouts=2)
    with pytest.raises(ValueError, match="minibatch_size must be a positive int"):
        ParetoSearch(agent, opt, STYLE_ROWS, STYLE_ROWS, exact, max_iterations=1, minibatch_size=0)


def test_a_composites_parts_take_turns_so_each_child_changes_one_part():
    import trace_opt as to

    agent = Styler()
    cases = ScriptedMutation(agent, [{"case": "upper"}, {"case": "lower"}], names=["case"])
    marks = ScriptedMutation(agent, [{"mark": "!"}, {"mark": "?"}], names=["mark"])
    runner = ParetoSearch(agent, to.optim.CompositeOptimizer([cases, marks]), STYLE_ROWS, STYLE_ROWS, exact,
                          minibatch_size=len(STYLE_ROWS), max_iterations=2, merge=False, seed=4, progress=False)
    result = runner.fit()
    assert (cases.steps, marks.steps) == (1, 1)  # iteration 1 the first part, iteration 2 the second
    assert [c.changed(result.pool[0]) for c in result.pool[1:]] == [["case"], ["mark"]]
    with pytest.raises(ValueError, match="mutate must be one of"):
        ParetoSearch(agent, cases, STYLE_ROWS, STYLE_ROWS, exact, max_iterations=1, mutate="some")


def test_the_same_search_on_asyncio_gives_the_same_pool():
    def pool_of(executor):
        agent = Styler()
        runner = ParetoSearch(agent, ScriptedMutation(agent, [{"case": "upper"}, {"mark": "!"}]), STYLE_ROWS,
                              STYLE_ROWS, exact, minibatch_size=len(STYLE_ROWS), max_iterations=3, seed=4,
                              executor=executor, progress=False)
        return [(c.values, c.scores, c.parents) for c in runner.fit().pool]

    assert pool_of("async") == pool_of(None) and len(pool_of(None)) == 4


def named(output, target):
    """Two named scores: the exact answer, and the case alone."""
    return {"exact": float(output == target), "case": float(output.rstrip("!") == target.rstrip("!"))}


def test_named_scores_are_kept_per_candidate_and_weights_rank_them():
    import trace_opt as to

    assert to.Feedback(scores={"b": 1, "a": 0.5}).score == 0.75 and to.Feedback(scores={"a": 1}).named == {"a": 1.0}
    with pytest.raises(ValueError, match="'a' must be a finite number"):
        to.Feedback(scores={"a": float("nan")})
    agent = Styler()
    runner = ParetoSearch(agent, ScriptedMutation(agent, [{"case": "upper"}, {"mark": "!"}]), STYLE_ROWS,
                          STYLE_ROWS, named, minibatch_size=len(STYLE_ROWS), max_iterations=3, seed=4,
                          weights={"case": 1.0}, progress=False)
    result = runner.fit()
    assert set(result.pool[0].named) == {"exact", "case"}
    assert result.pool[0].objectives("tokens")["case"] == pytest.approx(3 / 8)  # left as it is: Ef, Mn, gh
    best_case = max(c.objectives("tokens")["case"] for c in result.pool)
    assert result.best.objectives("tokens")["case"] == best_case
    with pytest.raises(ValueError, match="weights name objectives"):
        ParetoSearch(agent, ScriptedMutation(agent, [{}]), STYLE_ROWS, STYLE_ROWS, named, max_iterations=1,
                     weights={"speed": 1.0}, progress=False).fit()
