"""Random search over bounded numbers and categorical choices.

Bergstra & Bengio (2012), "Random Search for Hyper-Parameter Optimization": uniform draws
beat a grid when few hyper-parameters matter, and are the baseline any smarter search must
beat. Settings put in the queue with ``enqueue`` (e.g. an LLM's proposals) are tried before
the random ones.

Ask/tell: the first ``step()`` reads the score of the initial values; each step reads the
score of the values the previous step set, then sets the next setting to evaluate.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, Optional

from ...graph import Parameter
from ._base import ScoreSearch
from ._space import check_setting, random_value

__all__ = ["RandomSearch"]


class RandomSearch(ScoreSearch):
    """Uniform random search over number Parameters with finite ``bounds`` and categorical ones.

    Args:
        params: number Parameters with finite ``bounds`` and categorical Parameters (``choices``).
        seed: for the random draws (the same seed gives the same settings).
    """

    kinds = ("number", "categorical")

    def __init__(self, params: Iterable[Any], *, seed: Optional[int] = None) -> None:
        super().__init__(params, {}, seed)
        self.search["queue"] = []  # settings to try before random ones: [[position, value], ...]

    def enqueue(self, setting: Dict[Parameter, Any]) -> None:
        """Try this setting (parameter -> value) before the random ones; parameters it leaves out
        are drawn at random. Each value is validated now (ValueError naming the parameter)."""
        index = {p: i for i, p in enumerate(self.parameters())}
        checked = [[index[p], v] for p, v in check_setting("RandomSearch.enqueue", setting, index).items()]
        self.search["queue"].append(checked)

    def search_step(self) -> Optional[float]:
        """Read the score of the setting just evaluated and set the next one (queued, else random).
        Returns the score (None, with a warning and nothing changed, when no score arrived)."""
        score = self.take_score()
        if score is None:
            return None
        queued = dict(self.search["queue"].pop(0)) if self.search["queue"] else {}
        for i, param in enumerate(self.parameters()):
            param.data = queued[i] if i in queued else random_value(param, self.rng)
        return score
