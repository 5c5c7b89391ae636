"""OptunaSearch: one Optuna trial per evaluation, so a user's study (storage, sampler, pruner) works."""

import pytest

import trace_opt as to
from trace_opt.optim import OptunaSearch

from .conftest import BEST, Blackbox, run

optuna = pytest.importorskip("optuna")


def test_tpe_improves_the_blackbox_within_bounds(box):
    start = box().data
    opt = OptunaSearch(box.parameters(), seed=0)
    seen = run(opt, box, 40)
    assert seen[0] == (0.1, 1, "a")
    assert all(0.0 <= x <= 1.0 and type(k) is int and 0 <= k <= 10 and c in "abc" for x, k, c in seen)
    assert opt.best_score > start + 0.8 and opt.best_score > BEST - 0.02
    assert opt.study.best_value == opt.best_score and opt.study.best_params["c"] == "b"
    assert len(opt.study.trials) == 41  # 40 told, the 41st being evaluated next
    opt.apply_best()
    assert box().data == opt.best_score


def test_the_same_seed_gives_the_same_trials():
    first, second = Blackbox(), Blackbox()
    assert run(OptunaSearch(first.parameters(), seed=5), first, 15) == run(OptunaSearch(second.parameters(), seed=5), second, 15)


def test_a_users_sqlite_study_holds_the_trials_and_resumes(box, tmp_path):
    storage = f"sqlite:///{tmp_path / 'search.db'}"
    study = optuna.create_study(storage=storage, study_name="tune", direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=0))
    opt = OptunaSearch(box.parameters(), study=study)
    seen = run(opt, box, 6)
    saved, values = opt.state_dict(), box.state_dict()

    stored = optuna.load_study(study_name="tune", storage=storage)
    done = stored.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert [(t.params["x"], t.params["k"], t.params["c"]) for t in done] == seen
    assert [t.value for t in done] == pytest.approx([Blackbox.forward_at(*s) for s in seen])

    other = Blackbox()  # a new process: the same storage, the saved search state
    resumed = OptunaSearch(other.parameters(), study=optuna.load_study(study_name="tune", storage=storage))
    resumed.load_state_dict(saved)
    assert resumed.trial.number == 6 and (other.x.data, other.k.data, other.c.data) == \
        (box.x.data, box.k.data, box.c.data)
    other.load_state_dict(values)
    run(resumed, other, 3)
    assert len(optuna.load_study(study_name="tune", storage=storage).get_trials(
        states=(optuna.trial.TrialState.COMPLETE,))) == 9


def test_load_state_dict_needs_the_same_study(box):
    opt = OptunaSearch(box.parameters(), seed=0)
    run(opt, box, 2)
    with pytest.raises(ValueError, match="no running trial 2"):
        OptunaSearch(Blackbox().parameters(), seed=0).load_state_dict(opt.state_dict())


def test_prune_ends_the_trial_and_asks_the_next(box):
    opt = OptunaSearch(box.parameters(), seed=0)
    run(opt, box, 2)
    pruned = opt.trial.number
    (box.x * 1).backward(-5.0)  # a partial evaluation, abandoned
    opt.prune()
    assert opt.study.trials[pruned].state == optuna.trial.TrialState.PRUNED and opt.trial.number == pruned + 1
    run(opt, box, 1)
    assert opt.study.trials[pruned + 1].value == pytest.approx(Blackbox.forward_at(*opt.study.trials[pruned + 1]
                                                                                  .params.values()))


def test_choices_of_mixed_types_are_stored_by_index():
    mode = to.Parameter(None, choices=[None, "fast", 3], name="mode")
    opt = OptunaSearch([mode], seed=0)
    seen = []
    for _ in range(8):
        seen.append(mode.data)
        out = to.bundle()(lambda m: 1.0 if m == 3 else 0.0)(mode)
        opt.zero_feedback()
        out.backward(out.data)
        opt.step()
    assert set(seen) <= {None, "fast", 3} and opt.best_values()[mode] == 3
    assert opt.study.trials[0].params == {"mode": 0}


def test_bad_input_is_a_clear_error(box):
    with pytest.raises(ValueError, match=r"bounds.*'loose'"):
        OptunaSearch([to.Parameter(1.0, name="loose")])
    with pytest.raises(ValueError, match="empty parameter list"):
        OptunaSearch([])
    with pytest.raises(ValueError, match="direction='maximize'"):
        OptunaSearch(box.parameters(), study=optuna.create_study(direction="minimize"))
    with pytest.raises(ValueError, match="set the sampler"):
        OptunaSearch(box.parameters(), study=optuna.create_study(direction="maximize"), seed=1)
    with pytest.raises(TypeError, match="optuna.Study"):
        OptunaSearch(box.parameters(), study="sqlite:///x.db")


def test_a_step_without_a_score_keeps_the_trial_open(box):
    opt = OptunaSearch(box.parameters(), seed=0)
    run(opt, box, 2)
    trial, values = opt.trial.number, (box.x.data, box.k.data, box.c.data)
    (box.x * 1).backward("words only")
    with pytest.warns(RuntimeWarning, match="no score arrived"):
        assert opt.step().score is None
    assert opt.trial.number == trial and (box.x.data, box.k.data, box.c.data) == values


def test_the_studys_pruner_stops_a_poor_trial_early(box):
    """Score each setting over several minibatches, reporting the running mean: the median pruner
    stops a trial running below the median of the earlier ones at the same minibatch."""
    pruner = optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0)
    study = optuna.create_study(direction="maximize", pruner=pruner, sampler=optuna.samplers.TPESampler(seed=1))
    opt = OptunaSearch(box.parameters(), study=study)
    run(opt, box, 1)  # the initial values
    for _ in range(15):
        scores = []
        for batch in range(4):
            out = box()
            if batch == 0:
                opt.zero_feedback()
            out.backward(to.Feedback("scored", score=out.data))
            scores.append(out.data)
            opt.trial.report(sum(scores) / len(scores), batch)
            if opt.trial.should_prune():
                opt.prune()
                break
        else:
            opt.step()
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.PRUNED) >= 1
    assert states.count(optuna.trial.TrialState.COMPLETE) + states.count(optuna.trial.TrialState.PRUNED) == 16
    # each completed trial's value is its own setting's score, not mixed with a pruned trial's
    assert all(t.value == pytest.approx(Blackbox.forward_at(*t.params.values())) for t in study.trials
               if t.state == optuna.trial.TrialState.COMPLETE)
