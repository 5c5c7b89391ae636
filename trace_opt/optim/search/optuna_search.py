"""Hyper-parameter search with an Optuna study underneath (TPE by default).

Bergstra et al. (2011), "Algorithms for Hyper-Parameter Optimization" (TPE), through Optuna
(Akiba et al., 2019): the study does the modelling, so whatever a user configures on it (a
sampler, ``storage="sqlite:///..."`` to resume or share a search, the dashboard reading that
storage, pruners) works as it does in Optuna. Each evaluation is one trial; the initial
values are recorded as the first one.

Ask/tell: the first ``step()`` reads the score of the initial values; each step tells the
study the score of the trial just evaluated and asks for the next. ``optuna`` is imported
here only (``pip install trace-opt-framework[search]``).
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, Optional

from ...graph import Parameter
from ..llm.suggestions import variable_keys
from ._base import ScoreSearch
from ._space import check_setting, int_range

__all__ = ["OptunaSearch"]


def _import_optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise ImportError("OptunaSearch needs optuna: pip install 'trace-opt-framework[search]'") from None
    return optuna


class OptunaSearch(ScoreSearch):
    """Ask/tell search over bounded numbers and choices, one Optuna trial per evaluation.

    Args:
        params: number Parameters with finite ``bounds`` and categorical Parameters (``choices``).
        study: an ``optuna.create_study(direction="maximize", ...)`` of your own (storage, sampler,
            pruner); by default an in-memory study with a TPE sampler.
        sampler: the sampler of the default study (TPE with ``seed``); not with ``study``.
        seed: for the default TPE sampler.

    Trial parameters are named after the Parameters (``variable_keys``); choices that are not all
    of one plain type (str, int, float, bool) are stored as their index.
    """

    kinds = ("number", "categorical")

    def __init__(self, params: Iterable[Any], study: Any = None, sampler: Any = None, seed: Optional[int] = None) -> None:
        super().__init__(params, {}, seed)
        optuna = _import_optuna()
        if study is None:
            sampler = sampler if sampler is not None else optuna.samplers.TPESampler(seed=seed)
            study = optuna.create_study(direction="maximize", sampler=sampler)
        elif sampler is not None or seed is not None:
            raise ValueError("OptunaSearch: with your own study, set the sampler (and its seed) on the study, "
                             "not through sampler= or seed=")
        elif not isinstance(study, optuna.Study):
            raise TypeError(f"OptunaSearch: study must be an optuna.Study, got {type(study).__name__}")
        if list(study.directions) != [optuna.study.StudyDirection.MAXIMIZE]:
            raise ValueError("OptunaSearch maximizes the feedback score (higher is better): create the study with "
                             f"direction='maximize', not {[d.name.lower() for d in study.directions]}")
        self.study = study
        self.trial: Any = None  # the optuna Trial being evaluated (None until the first step)
        self.keys = variable_keys(self.parameters())
        self._by_index = {p for p in self.parameters() if p.kind == "categorical" and not _plain(p.choices)}
        self.distributions = {self.keys[p]: self._distribution(p, optuna) for p in self.parameters()}
        self.search.update(trial=None, queue=[])  # the trial being evaluated (its number); settings to enqueue

    def _distribution(self, param: Parameter, optuna: Any) -> Any:
        dist = optuna.distributions
        if param.kind == "categorical":
            return dist.CategoricalDistribution(list(range(len(param.choices))) if param in self._by_index
                                                else list(param.choices))
        if param.spec.integer:
            return dist.IntDistribution(*int_range(param))
        return dist.FloatDistribution(float(param.bounds[0]), float(param.bounds[1]))

    # -- settings as Optuna sees them -----------------------------------------------------
    def encode(self, setting: Dict[Parameter, Any]) -> Dict[str, Any]:
        """Parameter -> value as trial params (key -> value, choices as their index where needed)."""
        return {self.keys[p]: (_index(p.choices, v) if p in self._by_index else v) for p, v in setting.items()}

    def _apply(self, params: Dict[str, Any]) -> None:
        for param in self.parameters():
            value = params[self.keys[param]]
            param.data = param.choices[value] if param in self._by_index else value

    def enqueue(self, setting: Dict[Parameter, Any]) -> None:
        """Have the study try this setting (parameter -> value) next (``study.enqueue_trial`` when
        the next trial is asked); parameters it leaves out are sampled. Values are validated now."""
        checked = check_setting("OptunaSearch.enqueue", setting, self.keys)
        self.search["queue"].append(self.encode(checked))

    # -- ask / tell -------------------------------------------------------------------------
    def search_step(self) -> Optional[float]:
        """Tell the study the score of the trial just evaluated and set the next trial's values.
        Returns the score (None, with a warning and nothing changed, when no score arrived)."""
        score = self.take_score()
        if score is None:
            return None
        if self.trial is None:  # the initial values: recorded as a finished trial
            optuna = _import_optuna()
            current = {p: p.data for p in self.parameters()}
            self.study.add_trial(optuna.trial.create_trial(params=self.encode(current),
                                                           distributions=self.distributions, value=score))
        else:
            self.study.tell(self.trial, score)
        self._ask()
        return score

    def prune(self) -> None:
        """End the trial being evaluated as pruned (after ``self.trial.should_prune()`` said so,
        with the study's pruner) and set the next trial's values."""
        if self.trial is None:
            raise RuntimeError("OptunaSearch.prune(): no trial yet (the initial values are scored by the first step)")
        self.study.tell(self.trial, state=_import_optuna().trial.TrialState.PRUNED)
        self.read_score()  # what arrived for the pruned trial is not the next trial's score
        self._ask()

    def _ask(self) -> None:
        while self.search["queue"]:  # enqueued only now, so trial numbers follow the order of evaluation
            self.study.enqueue_trial(self.search["queue"].pop(0))
        self.trial = self.study.ask(self.distributions)
        self.search["trial"] = self.trial.number
        self._apply(self.trial.params)

    # -- saving -----------------------------------------------------------------------------
    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        """Resume with the same study (e.g. ``optuna.load_study`` on the same storage): the trial
        that was being evaluated is taken up again and its values set."""
        number = state_dict.get("search", {}).get("trial") if isinstance(state_dict, dict) else None
        running = None
        if number is not None:
            optuna = _import_optuna()
            running = next((t for t in self.study.get_trials(deepcopy=False) if t.number == number), None)
            if running is None or running.state != optuna.trial.TrialState.RUNNING:
                raise ValueError(f"OptunaSearch.load_state_dict: the study has no running trial {number}; "
                                 "load it into a search over the same study (its storage)")
        super().load_state_dict(state_dict)
        if running is not None:
            self.trial = _import_optuna().trial.Trial(self.study, running._trial_id)
            self._apply(running.params)
        else:
            self.trial = None


def _plain(choices: Any) -> bool:
    """Choices Optuna can store as they are: all of one plain type."""
    kinds = {type(c) for c in choices}
    return len(kinds) == 1 and kinds <= {str, int, float, bool}


def _index(choices: Any, value: Any) -> int:
    return next(i for i, c in enumerate(choices) if c == value and type(c) is type(value))
