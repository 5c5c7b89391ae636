"""Hyper-parameter search warm-started by an LLM's proposals.

Liu et al. (2024), "Large Language Models to Enhance Bayesian Optimization" (LLAMBO): an LLM
that reads what the parameters mean proposes better first points than random initialisation,
and the search then goes on as usual. Here one structured call asks for ``n_initial``
settings (a JSON list; the schema offers numbers within bounds and choices as enums); they are
evaluated first, then an Optuna study (TPE) or random search takes over.

A reply that is unusable (the LLM layer's re-asks exhausted) is never fatal: the missing
points are random, with the reason logged. Each suggested value is validated by its parameter
and dropped alone if invalid (the search fills it in). The budget running out is not caught.

Ask/tell: the first ``step()`` reads the score of the initial values, asks the LLM (showing it
that score) and sets its first setting; each later step reads the score of the values just set.
"""
from __future__ import annotations

import logging
import random
import types
from typing import Any, Dict, Iterable, List, Optional

from pydantic import BaseModel, Field, ValidationError, create_model

from ...graph import Parameter
from ..llm.suggestions import check_value, suggested_values, suggestion_model, variable_keys
from ..llm.tokens import reply_budget
from ._base import ScoreSearch
from ._space import random_value

__all__ = ["LLMWarmStartSearch"]

log = logging.getLogger("trace_opt.optim")


class LLMWarmStartSearch(ScoreSearch):
    """The LLM proposes the first ``n_initial`` settings; Optuna (or random search) continues.

    Args:
        params: number Parameters with finite ``bounds`` and categorical Parameters (``choices``).
        llm: a ``to.LLM`` (the embedded default model when None).
        n_initial: how many settings the LLM proposes (4).
        then: "optuna" (an ``OptunaSearch``; ``study``/``sampler`` go to it) or "random".
        task: what is being tuned, in a sentence, for the LLM (optional; descriptions help too).
        seed: for the search after the warm start and the random fill-in.
    """

    kinds = ("number", "categorical")

    def __init__(self, params: Iterable[Any], llm: Any = None, n_initial: int = 4, then: str = "optuna", *,
                 task: str = "", study: Any = None, sampler: Any = None, seed: Optional[int] = None) -> None:
        if then not in ("optuna", "random"):
            raise ValueError(f"LLMWarmStartSearch: then must be 'optuna' or 'random', got {then!r}")
        if not isinstance(n_initial, int) or isinstance(n_initial, bool) or n_initial < 1:
            raise ValueError(f"LLMWarmStartSearch: n_initial must be an int >= 1, got {n_initial!r}")
        super().__init__(params, {}, seed)
        # the fill-in draws must differ from the engine's, which has the seed itself
        self.rng = random.Random(None if seed is None else f"warm-start-{seed}")
        if then == "optuna":
            from .optuna_search import OptunaSearch

            self.engine: ScoreSearch = OptunaSearch(self.parameters(), study=study, sampler=sampler, seed=seed)
        elif study is not None or sampler is not None:
            raise ValueError("LLMWarmStartSearch: study= and sampler= apply to then='optuna' only")
        else:
            from .random_search import RandomSearch

            self.engine = RandomSearch(self.parameters(), seed=seed)
        self._llm, self.n_initial, self.then, self.task = llm, n_initial, then, task
        self.keys = variable_keys(self.parameters())
        # after the first step: the settings the LLM proposed ([[position, value], ...] each) and why not more
        self.search.update(proposed=None, fallback=None)

    @property
    def llm(self) -> Any:
        if self._llm is None:
            from ...llm import LLM

            self._llm = LLM()
        return self._llm

    @property
    def study(self) -> Any:
        """The Optuna study (then='optuna')."""
        return getattr(self.engine, "study", None)

    def search_step(self) -> Optional[float]:
        """Read the score of the setting just evaluated and set the next one: the LLM's settings
        first, then the search's. Returns the score (None, with a warning, when none arrived)."""
        score = self.take_score()
        if score is None:
            return None
        if self.search["proposed"] is None:
            self._warm_start(score)
        self.engine.step()
        return score

    def _warm_start(self, score: float) -> None:
        settings = self.propose(score)
        params = self.parameters()
        position = {p: i for i, p in enumerate(params)}  # by identity: Parameters' == is traced
        self.search["proposed"] = [[[position[p], v] for p, v in s.items()] for s in settings]
        missing = self.n_initial - len(settings)
        if missing:
            reason = self.search["fallback"] or "fewer usable settings than asked for"
            self.search["fallback"] = reason
            log.warning("LLMWarmStartSearch: %d of %d initial settings are random: %s", missing, self.n_initial, reason)
        for setting in settings:
            self.engine.enqueue(setting)
        for _ in range(missing):
            self.engine.enqueue({p: random_value(p, self.rng) for p in params})

    def propose(self, score: Optional[float] = None) -> List[Dict[Parameter, Any]]:
        """Ask the LLM for ``n_initial`` settings (parameter -> value; values it got wrong left out).
        An unusable reply gives [] and sets ``search["fallback"]`` to the reason."""
        from ...llm import BudgetExceeded, LLMError, ModelUnreachable

        schema = self.reply_model()
        options = reply_budget(self.llm)
        try:
            reply = self.llm.structured(self.messages(score), schema=schema, **options)
        except (BudgetExceeded, ModelUnreachable):
            raise
        except (LLMError, ValidationError) as exc:  # a reply that fails the schema
            self.search["fallback"] = f"unusable LLM reply: {type(exc).__name__}: {str(exc)[:300]}"
            return []
        by_key = {key: param for param, key in self.keys.items()}
        settings: List[Dict[Parameter, Any]] = []
        for number, suggestion in enumerate(reply.settings[: self.n_initial]):
            values, unknown = suggested_values(types.SimpleNamespace(suggestion=suggestion))
            if unknown:
                log.info("LLMWarmStartSearch: setting %d names unknown variables %s", number, unknown)
            setting = {}
            for key, value in values.items():
                try:
                    setting[by_key[key]] = check_value(by_key[key], value)
                except ValueError as exc:
                    log.info("LLMWarmStartSearch: setting %d: value %r for %s dropped: %s", number, value, key, exc)
            if setting and setting not in settings:
                settings.append(setting)
        return settings

    def reply_model(self) -> type:
        """``{"reasoning": str, "settings": [{key: value, ...}, ...]}``, each setting typed as an
        LLM optimizer's suggestion (numbers with their bounds, choices as enums)."""
        constrained = bool(getattr(self.llm, "constrains_json_schema", False))
        suggestion = suggestion_model(self.keys, with_reasoning=False, constrained=constrained).model_fields["suggestion"].annotation
        n = self.n_initial
        return create_model("WarmStartReply", __base__=BaseModel,
                            reasoning=(str, Field(default="", description="why these settings should score well")),
                            settings=(List[suggestion], Field(json_schema_extra={"minItems": n, "maxItems": n})))

    def messages(self, score: Optional[float]) -> List[Dict[str, str]]:
        lines = [f"Propose {self.n_initial} different settings of the variables below to try first in a "
                 "hyper-parameter search: the ones you expect to score best, spread out enough to be informative."]
        if self.task:
            lines.append(f"Task: {self.task}")
        lines.append("Variables:")
        for param, key in self.keys.items():
            if param.kind == "categorical":
                space = f"one of {list(param.choices)}"
            else:
                space = f"{'integer' if param.spec.integer else 'number'} from {param.bounds[0]} to {param.bounds[1]}"
            about = f" ({param.description})" if param.description else ""
            lines.append(f"- {key}{about}: {space}; now {param.data!r}")
        if score is not None:
            lines.append(f"The current values scored {score:g} (higher is better).")
        lines.append('Reply with a JSON object: "reasoning", a sentence, and "settings", a list of '
                     f"{self.n_initial} objects, each with a value for every variable.")
        return [{"role": "system", "content": "You are an expert at tuning hyper-parameters."},
                {"role": "user", "content": "\n".join(lines)}]

    # -- saving ---------------------------------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        saved = super().state_dict()
        saved["engine"] = self.engine.state_dict()
        return saved

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        if not isinstance(state_dict, dict) or "engine" not in state_dict:
            raise ValueError("not an LLMWarmStartSearch state_dict: it lacks 'engine'")
        self.engine.load_state_dict(state_dict["engine"])
        super().load_state_dict(state_dict)
