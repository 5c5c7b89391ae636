"""BootstrapFewShot: demonstrations chosen by the metric, taken from the traces themselves.

A ``to.Demos`` parameter fed to ``to.ops.llm_call(..., demos=)`` is an input of every call that
used it, so after ``backward`` its feedback records lead to those calls: the user message each
one got and the reply it gave. A rollout the guide scored at least ``threshold`` gives its calls
as demonstrations (bootstrapping through the trace, not by re-running the program); labelled
rows given as ``trainset`` are the cold start, for a model that never succeeds on its own.

Each step proposes up to ``num_candidates`` demo sets from that pool: the best-scored first,
then seeded draws. With ``step(evaluate=...)`` each is scored and one is kept only when it beats
the current set by more than ``min_delta`` (a tie keeps the incumbent); without, the first
proposal that differs from the current set is taken (a Trainer then keeps it only if validation
does not fall).
"""
from __future__ import annotations

import copy
import random
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from ...data import as_pair, target_value
from ...graph import MessageNode, Parameter
from ...graph.traversal import ancestors
from ..base import Optimizer
from ..report import Candidate, Proposal, StepReport
from ..selection import choose

Demo = Tuple[str, str]
LABELLED = None  # the score of a labelled row's demonstration: no rollout earned it


def traced_demos(param: Parameter, threshold: float) -> List[Tuple[Demo, float]]:
    """(user message, reply) of each llm_call that used ``param`` in an output scored >= threshold."""
    found = []
    for record in param.feedback:
        score = record.feedback.score
        if score is None or score < threshold:
            continue
        for current in ancestors(record.output):
            if isinstance(current, MessageNode) and current.inputs.get("demos") is param:
                user, reply = current.inputs.get("user"), current.data
                if user is not None and isinstance(user.data, str) and isinstance(reply, str) and reply.strip():
                    found.append(((user.data, reply), score))
    return found


class BootstrapFewShot(Optimizer):
    """Fills ``to.Demos`` parameters with demonstrations from well-scored traces and labelled rows."""

    def __init__(self, params: Iterable[Any], trainset: Sequence[Any] = (), *, threshold: float = 1.0,
                 num_candidates: int = 4, min_delta: float = 0.0, max_pool: int = 200, seed: Optional[int] = 0) -> None:
        super().__init__(params, {})
        if not isinstance(num_candidates, int) or num_candidates < 1:
            raise ValueError(f"num_candidates must be a positive int, got {num_candidates!r}")
        if not isinstance(max_pool, int) or max_pool < 1:
            raise ValueError(f"max_pool must be a positive int, got {max_pool!r}")
        self.threshold, self.num_candidates, self.min_delta, self.max_pool = threshold, num_candidates, min_delta, max_pool
        self.rng = random.Random(seed)
        labelled = [_labelled(row, i) for i, row in enumerate(trainset)]
        for param in self.parameters():   # pool: demo -> best score seen (None for a labelled row)
            self.state[param] = {"pool": {demo: LABELLED for demo in labelled}}

    def check_parameter(self, param: Any) -> None:
        super().check_parameter(param)
        if param.kind != "demos":
            raise TypeError(f"BootstrapFewShot fills demos parameters (to.Demos); {param.name!r} is {param.kind}")

    def step(self, evaluate: Optional[Callable[[], float]] = None) -> StepReport:
        """Take demonstrations from this step's feedback, propose demo sets, keep the best (see above)."""
        params = [p for p in self.parameters() if p.trainable]
        for param in params:
            self.harvest(param)
        candidates = self.candidates(params)
        name = type(self).__name__
        if not candidates:
            return StepReport(skipped="no demonstration to propose yet (no rollout reached the threshold and no "
                                      "labelled rows were given)", optimizer=name)
        report = StepReport(candidates=candidates, optimizer=name)
        if evaluate is None:
            report.chosen = 0
        else:
            choose(report, evaluate, self.min_delta)
        if report.chosen is not None:
            for param, value in candidates[report.chosen].changes.items():
                param.data = value
                report.updated[param.name] = value
        return report

    # -- the pool ----------------------------------------------------------------------------
    def harvest(self, param: Parameter) -> None:
        """Add the demonstrations this step's feedback earned to the parameter's pool."""
        pool: Dict[Demo, Optional[float]] = self.state[param]["pool"]
        for demo, score in traced_demos(param, self.threshold):
            previous = pool.get(demo, LABELLED)
            pool[demo] = score if previous is LABELLED else max(previous, score)
        if len(pool) > self.max_pool:   # keep the best-scored (labelled rows count as scoring the threshold)
            ranked = sorted(pool, key=lambda d: self._rank(pool[d]), reverse=True)
            self.state[param]["pool"] = {d: pool[d] for d in ranked[:self.max_pool]}

    def _rank(self, score: Optional[float]) -> float:
        return self.threshold if score is LABELLED else score

    def candidates(self, params: List[Parameter]) -> List[Candidate]:
        """Up to num_candidates demo sets, each different from the current one: the best-scored
        first (earned demonstrations before labelled rows), then seeded draws; labelled rows and
        draws are spread over the distinct answers (``spread``)."""
        sets: List[Dict[Parameter, list]] = []
        for index in range(self.num_candidates * 3):
            if len(sets) == self.num_candidates:
                break
            choice = {}
            for param in params:
                pool = self.state[param]["pool"]
                demos = list(pool)
                if index == 0:
                    earned = sorted((d for d in demos if pool[d] is not LABELLED), key=lambda d: pool[d], reverse=True)
                    demos = earned + spread([d for d in demos if pool[d] is LABELLED])
                else:
                    self.rng.shuffle(demos)
                    demos = spread(demos)
                value = [list(d) for d in demos[:param.k]]
                if value and not param.spec.same(value, param.data):
                    choice[param] = value
            if choice and all(choice != other for other in sets):
                sets.append(choice)
        return [Candidate(changes, [Proposal(p.name, v, True) for p, v in changes.items()],
                          reasoning="the best-scored demonstrations" if i == 0 else "a draw from the pool")
                for i, changes in enumerate(sets)]

    # -- saving ----------------------------------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        saved = super().state_dict()
        for entry in saved["state"].values():
            entry["pool"] = [[list(demo), score] for demo, score in entry["pool"].items()]
        saved["rng"] = self.rng.getstate()
        return saved

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        if not isinstance(state_dict, dict) or "rng" not in state_dict:
            raise ValueError("not a BootstrapFewShot state_dict: it lacks 'rng'")
        state_dict = copy.deepcopy(state_dict)
        for entry in state_dict.get("state", {}).values():
            entry["pool"] = {tuple(demo): score for demo, score in entry["pool"]}
        super().load_state_dict(state_dict)
        rng_state = state_dict["rng"]
        self.rng.setstate(tuple(tuple(x) if isinstance(x, list) else x for x in rng_state))


def spread(demos: List[Demo]) -> List[Demo]:
    """The demonstrations reordered to take each distinct answer in turn (order kept within one):
    four examples of a two-label task then show both labels, not four of whichever came first."""
    groups: Dict[str, List[Demo]] = {}
    for demo in demos:
        groups.setdefault(str(demo[1]).strip().lower(), []).append(demo)
    queues = list(groups.values())
    return [queue[i] for i in range(max(map(len, queues), default=0)) for queue in queues if i < len(queue)]


def _labelled(row: Any, index: int) -> Demo:
    """A labelled training row as a demonstration: (input, output) of text; an Example row gives
    its one input and its one label."""
    try:
        pair = as_pair(row, "trainset")
    except TypeError:
        pair = None
    if pair is not None:
        pair = (pair[0], target_value(pair[1]))
    if pair is None or not all(isinstance(x, str) for x in pair):
        raise TypeError(f"trainset row {index} must be an (input, output) pair of str or an Example with one "
                        f"input and one label of text, got {row!r:.80}")
    return (pair[0], pair[1])
