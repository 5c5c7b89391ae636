"""ParetoSearch: a pool of whole-agent candidates searched GEPA's way, on several objectives.

The Trainer walks one line (keep the best so far, move when validation does not fall). This
keeps every candidate it validates, each scored on every validation instance, and the
instance-wise Pareto front of them: whoever is best on some instance stays a possible parent,
drawn in proportion to the instances it wins. Each iteration draws a parent, runs it on a
minibatch of training rows (traced), sends the guide's feedback backward and lets the mutation
optimizer (OptoPrime by default; any optimizer of ours; a CompositeOptimizer's parts take turns,
GEPA's round robin over modules) rewrite the parameters; the child must
beat its parent on that same minibatch before it earns a full validation and a place in the
pool. After a child is accepted the next iteration tries a merge: two front members that
changed different parameters since a common ancestor make a child with both changes, gated the
same way. A child whose values are already in the pool costs nothing. The mutation operator proposes one
child and the gate judges it; an optimizer that scores candidates of its own (BootstrapFewShot,
MIPRO) is handed the minibatch to score them on only with ``evaluate_candidates=True``.

Every validation rollout is charged its tokens, dollars and seconds (the LLM layer's accounting,
opened inside the rollout), so the result offers the front of score against cost, the cheapest
candidate within epsilon of the best, and the best within a cost cap; a guide may give named
scores and ``selection="rank"`` draws parents from the first rank of a non-dominated sort over
all objectives, ``weights={...}`` ranks candidates by a weighted sum of them.

Limits: ``max_rollouts`` (agent runs, minibatch and validation alike, as DSPy's GEPA counts
metric calls), ``max_iterations``, and the run's ``Budget`` (calls, tokens, USD), at least one.
The pool, the scores, the lineage, the random state and the optimizer's state are checkpointed
atomically after every iteration; ``resume()`` continues exactly where a killed search stopped.
At the end the agent holds the best candidate's values.
"""
from __future__ import annotations

import functools
import logging
import math
import random
import sys
from pathlib import Path
from statistics import mean
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ..data import as_pair
from ..exec import as_executor
from ..graph import Module, no_trace
from ..graph.errors import stops_run
from ..graph.serialize import remove_stale_temps
from ..optim.base import takes_evaluate
from ..optim.composite import CompositeOptimizer, as_optimizer
from ..optim.report import StepReport
from . import pareto_front
from .candidates import Candidate, Pool, values_key
from .checkpoint import CHECKPOINT, checked_state, load_checkpoint, save_checkpoint
from .events import json_value
from .guide import as_guide
from .merge import describe, merge, merge_pairs
from .progress import ProgressBar
from .run_log import RunLog, optional_log
from .rollouts import Rollout, judge, named_rollout, send_feedback
from .search_result import SearchResult
from .sigterm import GracefulSigterm

log = logging.getLogger("trace_opt.train")
SELECTIONS = ("pareto", "rank", "weights")
COSTS = ("auto", "usd", "tokens")
MUTATE = ("one", "all")  # a composite's parts: one a mutation in turn (GEPA's round robin), or all at once


class _OutOfRollouts(Exception):
    """The next evaluation would pass ``max_rollouts``: the search ends before it."""



class ParetoSearch:
    """Searches ``agent``'s parameters over a pool of candidates (GEPA-like defaults)."""

    def __init__(self, agent: Module, optimizer: Any = None, train: Sequence[Any] = (),
                 val: Optional[Sequence[Any]] = None, guide: Any = None, *, minibatch_size: int = 3,
                 max_rollouts: Optional[int] = None, max_iterations: Optional[int] = None, budget: Any = None,
                 merge: bool = True, selection: str = "pareto", weights: Optional[Mapping[str, float]] = None,
                 cost: str = "auto", perfect_score: Optional[float] = 1.0, mutate: str = "one",
                 evaluate_candidates: bool = False, executor: Any = None,
                 checkpoint_dir: Union[str, Path, None] = None, seed: int = 0, progress: Optional[bool] = None,
                 callbacks: Sequence[Callable[["ParetoSearch", Dict[str, Any]], Any]] = (), llm: Any = None,
                 sinks: Sequence[Any] = ()) -> None:
        from ..llm import Account, Budget

        if not isinstance(agent, Module):
            raise TypeError(f"ParetoSearch needs a trace_opt Module as agent, got {type(agent).__name__}")
        if optimizer is None:
            from ..optim import OptoPrime

            optimizer = OptoPrime(agent.parameters(), llm)
        self.optimizer = as_optimizer(optimizer, "ParetoSearch")
        if guide is None:
            raise TypeError("ParetoSearch needs a guide: a function (output, target) -> feedback, or a Guide")
        self.agent, self.guide = agent, as_guide(guide)
        self.train = [as_pair(r, "train") for r in train]
        self.val = [as_pair(r, "val") for r in (val or [])]
        if not self.train:
            raise ValueError("ParetoSearch needs train rows (the minibatches mutations learn from)")
        if not self.val:
            raise ValueError("ParetoSearch needs val rows: candidates are compared on each validation instance")
        _check_count("minibatch_size", minibatch_size)
        for name, value in (("max_rollouts", max_rollouts), ("max_iterations", max_iterations)):
            if value is not None:
                _check_count(name, value)
        if budget is not None and not isinstance(budget, Budget):
            raise TypeError(f"budget must be a trace_opt.llm.Budget or None, got {type(budget).__name__}")
        if max_rollouts is None and max_iterations is None and budget is None:
            raise ValueError("ParetoSearch needs a limit: max_rollouts, max_iterations or a budget")
        if max_rollouts is not None and max_rollouts < len(self.val):
            raise ValueError(f"max_rollouts={max_rollouts} cannot even validate the seed ({len(self.val)} val rows)")
        if weights is not None and selection == "pareto":
            selection = "weights"
        if selection not in SELECTIONS:
            raise ValueError(f"selection must be one of {SELECTIONS}, got {selection!r}")
        if selection == "weights" and not weights:
            raise ValueError('selection="weights" needs weights={objective: weight}, e.g. {"score": 1, "cost": -10}')
        if cost not in COSTS:
            raise ValueError(f"cost must be one of {COSTS}, got {cost!r}")
        if mutate not in MUTATE:
            raise ValueError(f"mutate must be one of {MUTATE}, got {mutate!r}")
        self.mutate, self.evaluate_candidates = mutate, bool(evaluate_candidates)
        self.minibatch_size, self.max_rollouts, self.max_iterations = minibatch_size, max_rollouts, max_iterations
        self.budget, self.merge, self.selection, self.cost = budget, bool(merge), selection, cost
        self.weights = dict(weights or {})
        self.perfect_score, self.seed = perfect_score, seed
        self.executor = as_executor(executor)
        self.run_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.sinks = list(sinks)  # MLflow, W&B, ...: every event goes to them too
        self.events = optional_log(self.run_dir, self.sinks)
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.callbacks = list(callbacks)
        self.account = Account(None)
        self.pool = Pool()
        self.iteration, self.rollouts = 0, 0
        self.rng = random.Random(seed)
        self.merge_due, self.tried_merges = False, []
        self.history: List[Dict[str, Any]] = []

    # -- public --------------------------------------------------------------------------
    def fit(self) -> SearchResult:
        """Search until a limit; the agent ends holding the best candidate's values."""
        from ..llm import accounting

        with accounting(self.budget) as account:
            self.account = account
            return self._fit()

    def resume(self, run_dir: Union[str, Path, None] = None) -> SearchResult:
        """Continue a search from its last checkpoint (agent and optimizer built as before)."""
        if run_dir is not None:
            self.run_dir, self.events = Path(run_dir), RunLog(run_dir, self.sinks)
        if self.run_dir is None:
            raise ValueError("resume() needs the search's checkpoint_dir")
        state = checked_state(load_checkpoint(self.run_dir), counters=("iteration", "rollouts"), tables=(), lists=("history",))
        remove_stale_temps(self.run_dir / CHECKPOINT)
        if state.get("kind") != "pareto_search":
            raise ValueError(f"{self.run_dir / CHECKPOINT} is not a ParetoSearch checkpoint")
        self.pool = Pool.from_json(state["pool"])
        self.iteration, self.rollouts = state["iteration"], state["rollouts"]
        version, internal, gauss = state["rng"]
        self.rng.setstate((version, tuple(internal), gauss))
        self.merge_due, self.tried_merges = state["merge_due"], [tuple(p) for p in state["tried_merges"]]
        self.history = state["history"]
        if state.get("optimizer") is not None:
            self.optimizer.load_state_dict(state["optimizer"])
        return self.fit()

    def best(self) -> Optional[Candidate]:
        """The best validated candidate: highest mean score (weighted sum with ``weights``),
        ties to the cheaper, then the elder."""
        scored = [c for c in self.pool if c.scores]
        if not scored:
            return None
        kind = self._cost_kind()
        if self.selection == "weights":
            return max(scored, key=lambda c: self._weighted(c, kind))
        return max(scored, key=lambda c: (c.score, -c.objectives(kind)["cost"]))

    # -- the loop ------------------------------------------------------------------------
    def _fit(self) -> SearchResult:
        from ..llm import BudgetExceeded, health

        self._event("run_start", agent=type(self.agent).__name__, optimizer=type(self.optimizer).__name__,
                    search="ParetoSearch",
                    config={"minibatch_size": self.minibatch_size, "max_rollouts": self.max_rollouts,
                            "max_iterations": self.max_iterations, "merge": self.merge, "selection": self.selection,
                            "seed": self.seed, "train": len(self.train), "val": len(self.val)},
                    parameters={n: json_value(v) for n, v in self.agent.state_dict().items()},
                    resumed_from=self.iteration or None)
        heard = health.snapshot()
        reason, message = "done", ""
        bar = ProgressBar(self.max_iterations or 0, self.progress)
        try:
            with GracefulSigterm() as sigterm:
                if not len(self.pool):
                    reason = self._seed() or reason
                while reason == "done" and self._limit() is None:
                    if sigterm.received:
                        reason, message = "interrupted", f"SIGTERM: stopped after iteration {self.iteration}"
                        break
                    try:
                        record = self._iterate(self.iteration + 1)
                    except _OutOfRollouts as exc:
                        reason, message = "budget", str(exc)
                        break
                    except BudgetExceeded as exc:
                        reason, message = "budget", str(exc)
                        break
                    except BaseException as exc:
                        self._restore_best()
                        self._event("run_end", reason="error", message=f"{type(exc).__name__}: {exc}",
                                    iterations=self.iteration, rollouts=self.rollouts)
                        raise
                    bar.update({"step": self.iteration, "train_score": record.get("parent_score") or 0.0,
                                "val_score": self.best().score}, self._usage())
                    if any(callback(self, record) == "stop" for callback in self.callbacks):
                        reason = "stopped"
                        break
        finally:
            bar.close()
        silent = health.never_answered(since=heard)
        if silent is not None:  # calls were made and all failed: no score here is a result
            self._event("run_end", reason="error", message=str(silent), iterations=self.iteration,
                        rollouts=self.rollouts)
            raise silent
        if not any(c.scores for c in self.pool):
            raise RuntimeError(f"the search ended ({reason}: {message}) before the seed was validated: no result")
        if reason == "done":
            reason = self._limit() or reason
        best = self._restore_best()
        self._event("run_end", reason=reason, message=message, best=best.id, best_val_score=best.score,
                    iterations=self.iteration, rollouts=self.rollouts)
        log.info("search ended (%s) after %d iterations, %d rollouts; best #%d scores %.4g",
                 reason, self.iteration, self.rollouts, best.id, best.score)
        return SearchResult(self.pool, best, reason, self.iteration, self.rollouts, self._cost_kind())

    def _seed(self) -> Optional[str]:
        """The agent as it is, validated: the first candidate. Returns a reason to stop, or None."""
        from ..llm import BudgetExceeded

        try:
            candidate = self._validated(self.agent.state_dict(), parents=(), origin="seed")
        except (_OutOfRollouts, BudgetExceeded) as exc:
            log.warning("the seed could not be validated: %s", exc)
            return "budget"
        self._checkpoint()
        return None if candidate is not None else "budget"

    def _limit(self) -> Optional[str]:
        """Why the search must end before another iteration: "done" (max_iterations), "budget"
        (too few rollouts left to run a parent and a child on a minibatch and validate the child:
        an iteration that could not finish is not begun), or None."""
        if self.max_iterations is not None and self.iteration >= self.max_iterations:
            return "done"
        needs = 2 * self._minibatch_rows() + len(self.val)  # a parent's and a child's minibatch, a validation
        if self.max_rollouts is not None and self.rollouts + needs > self.max_rollouts:
            return "budget"
        return None

    def _minibatch_rows(self) -> int:
        return min(self.minibatch_size, len(self.train))

    def _iterate(self, number: int) -> Dict[str, Any]:
        """One iteration: a merge when one is due and possible, else a mutation; then a checkpoint."""
        record: Optional[Dict[str, Any]] = None
        if self.merge and self.merge_due:
            record = self._try_merge(number)
        if record is None:
            record = self._mutate(number)
        self.iteration = number
        self.history.append({k: record.get(k) for k in ("iteration", "kind", "parents", "child", "accepted",
                                                          "reason", "parent_score", "child_score")})
        self._event("iteration", **record, rollouts=self.rollouts, usage=self._usage())
        self._checkpoint()
        return record

    def _mutate(self, number: int) -> Dict[str, Any]:
        parent = self.pool[self._select_parent()]
        batch = self._minibatch(number)
        record: Dict[str, Any] = {"iteration": number, "kind": "mutation", "parents": [parent.id], "child": None,
                                  "accepted": False}
        self.agent.load_state_dict(parent.values)
        self.optimizer.zero_feedback()
        results = self._run(batch, f"i{number}:parent", traced=True)
        parent_scores = send_feedback(self.guide, results, batch)[0]
        record["parent_score"] = mean(parent_scores)
        if self.perfect_score is not None and all(s >= self.perfect_score for s in parent_scores):
            record["reason"] = "the parent is perfect on the minibatch: nothing to learn from it"
            return record
        seen: Dict[str, float] = {}
        mutation = self._mutation_operator(number)
        if self.evaluate_candidates and takes_evaluate(mutation):
            stepped = mutation.step(evaluate=functools.partial(self._minibatch_score, batch, number, seen))
        else:
            stepped = mutation.step()
        report = StepReport.of(stepped, type(mutation).__name__)
        record["operator"] = type(mutation).__name__
        child_values = self.agent.state_dict()
        self.agent.load_state_dict(parent.values)
        record["proposals"] = [{"name": p.name, "value": json_value(p.value), "accepted": p.accepted,
                                "reason": p.reason} for p in report.proposals]
        notes = report.skip_reasons()
        return self._gate(number, record, child_values, [parent.id], sum(parent_scores), batch, seen,
                          "mutation", notes)

    def _mutation_operator(self, number: int) -> Any:
        """What mutates this iteration: with ``mutate="one"`` a CompositeOptimizer's parts take turns
        (each child then differs from its parent in one part's parameters, which is what merges
        recombine); otherwise the whole optimizer."""
        parts = getattr(self.optimizer, "optimizers", None) if isinstance(self.optimizer, CompositeOptimizer) else None
        if self.mutate == "all" or not parts:
            return self.optimizer
        return parts[(number - 1) % len(parts)]

    def _try_merge(self, number: int) -> Optional[Dict[str, Any]]:
        """A merge of two front members, gated like a mutation; None when no pair can merge."""
        self.merge_due = False
        front = list(pareto_front.instance_front(self.pool.score_matrix()))
        for first, second in merge_pairs(self.pool, front, self.tried_merges):
            self.tried_merges.append((first, second))
            found = merge(self.pool, first, second)
            if found is None or self.pool.find(found.values) is not None:
                continue
            batch = self._minibatch(number)
            record: Dict[str, Any] = {"iteration": number, "kind": "merge", "parents": [first, second],
                                      "child": None, "accepted": False, "merge": describe(found, self.pool)}
            best_parent = max(self._scores_of(self.pool[p].values, batch, f"i{number}:merge{p}")
                              for p in (first, second))
            record["parent_score"] = best_parent / len(batch)
            return self._gate(number, record, found.values, [first, second], best_parent, batch, {}, "merge", [],
                              ties_pass=True)
        return None

    def _gate(self, number: int, record: Dict[str, Any], values: Dict[str, Any], parents: List[int],
              parent_total: float, batch: List[Tuple[Any, Any]], seen: Dict[str, float], origin: str,
              notes: List[str], ties_pass: bool = False) -> Dict[str, Any]:
        """Minibatch gate, then full validation and a place in the pool."""
        known = self.pool.find(values)
        if known is not None:
            record["reason"] = "; ".join(notes + [f"the child's values are candidate #{known.id}'s: not run again"])
            return record
        child_total = self._scores_of(values, batch, f"i{number}:child", seen)
        record["child_score"] = child_total / len(batch)
        if child_total < parent_total or (child_total == parent_total and not ties_pass):
            record["reason"] = "; ".join(notes + [f"the child scored {child_total / len(batch):.4g} on the minibatch, "
                                                  f"not above its parent's {parent_total / len(batch):.4g}"])
            return record
        child = self._validated(values, parents=parents, origin=origin, iteration=number)
        record.update(child=child.id, accepted=True, val_score=child.score)
        if notes:
            record["reason"] = "; ".join(notes)
        self.merge_due = origin == "mutation"
        return record

    # -- evaluation ----------------------------------------------------------------------
    def _validated(self, values: Dict[str, Any], *, parents: Sequence[int], origin: str,
                   iteration: int = 0) -> Candidate:
        """Run ``values`` on every validation row and add them to the pool with their scores."""
        next_id = len(self.pool)
        self.agent.load_state_dict(values)
        results = self._run(self.val, f"c{next_id}:val", traced=False)
        failures: List[Exception] = []
        scores, named = [], {}
        for result, (_, target) in zip(results, self.val):
            feedback, score = (judge(self.guide, result.output.data, target, failures)
                               if result.output is not None else (None, 0.0))
            scores.append(score)
            for name, value in (feedback.scores if feedback is not None else ()):
                named.setdefault(name, []).append(value)
        candidate = self.pool.add(values, parents=parents, origin=origin, iteration=iteration)
        candidate.scores = scores
        candidate.named = {n: v for n, v in named.items() if len(v) == len(scores)}
        candidate.tokens = mean(r.tokens for r in results)
        candidate.cost_usd = mean(r.cost_usd for r in results)
        candidate.seconds = mean(r.seconds for r in results)
        base = self.pool[parents[0]] if parents else None
        self._event("candidate", id=candidate.id, parents=list(parents), origin=origin, iteration=iteration,
                    score=candidate.score, scores=scores, named=candidate.named, tokens=candidate.tokens,
                    cost_usd=candidate.cost_usd, seconds=candidate.seconds,
                    changed=candidate.changed(base) if base else [],
                    values={n: json_value(v) for n, v in values.items()})
        log.info("candidate #%d (%s of %s): validation %.4g", candidate.id, origin, list(parents) or "-",
                 candidate.score)
        return candidate

    def _scores_of(self, values: Dict[str, Any], batch: List[Tuple[Any, Any]], tag: str,
                   seen: Optional[Dict[str, float]] = None) -> float:
        """The summed guide score of ``values`` on ``batch`` (untraced), remembered in ``seen``."""
        key = values_key(values)
        if seen is not None and key in seen:
            return seen[key]
        self.agent.load_state_dict(values)
        results = self._run(batch, tag, traced=False)
        failures: List[Exception] = []
        total = sum(judge(self.guide, r.output.data, target, failures)[1] if r.output is not None else 0.0
                    for r, (_, target) in zip(results, batch))
        if seen is not None:
            seen[key] = total
        return total

    def _minibatch_score(self, batch: List[Tuple[Any, Any]], number: int, seen: Dict[str, float]) -> float:
        """The optimizer's ``evaluate``: the mean score of the agent's current values on the minibatch."""
        current = self.agent.state_dict()
        total = self._scores_of(current, batch, f"i{number}:try{len(seen)}", seen)
        self.agent.load_state_dict(current)
        return total / len(batch)

    def _run(self, rows: Sequence[Tuple[Any, Any]], tag: str, traced: bool) -> List[Rollout]:
        """The agent's rollouts on ``rows`` through the executor, each named for the cache."""
        if self.max_rollouts is not None and self.rollouts + len(rows) > self.max_rollouts:
            raise _OutOfRollouts(f"max_rollouts={self.max_rollouts} reached ({self.rollouts} used)")
        self.rollouts += len(rows)
        self.agent.parameters()
        items = [(f"pareto:{self.seed}:{tag}:{n}", row[0]) for n, row in enumerate(rows)]
        run = functools.partial(named_rollout, self.agent)
        if traced:
            mapped = self.executor.map(run, items)
        else:
            with no_trace():
                mapped = self.executor.map(run, items)
        results = [r if isinstance(r, Rollout) else Rollout(error=r) for r in mapped]
        for result in results:  # the model itself is gone, or the budget spent: the search stops
            cause = getattr(result.error, "exception", None) or result.error
            if cause is not None and stops_run(cause):
                raise cause
        return results

    def _minibatch(self, number: int) -> List[Tuple[Any, Any]]:
        """Iteration ``number``'s training rows: epochs of a seeded shuffle, cut in order."""
        size = self._minibatch_rows()
        per_epoch = math.ceil(len(self.train) / size)
        epoch, index = divmod(number - 1, per_epoch)
        order = list(range(len(self.train)))
        random.Random(f"{self.seed}:{epoch}").shuffle(order)
        picked = order[index * size:(index + 1) * size]
        if len(picked) < size:  # the epoch's last cut is short: fill it from the start
            picked += [i for i in order if i not in picked][:size - len(picked)]
        return [self.train[i] for i in picked]

    # -- selection -----------------------------------------------------------------------
    def _select_parent(self) -> int:
        scored = [c for c in self.pool if c.scores]
        if self.selection == "pareto":
            return pareto_front.sample_parent(pareto_front.instance_front(self.pool.score_matrix()), self.rng)
        kind = self._cost_kind()
        if self.selection == "weights":
            return self.best().id
        objectives = {c.id: _signed(c.objectives(kind)) for c in scored}
        first = pareto_front.pareto_ranks(objectives)[0]
        return first[self.rng.randrange(len(first))]

    def _weighted(self, candidate: Candidate, kind: str) -> float:
        objectives = candidate.objectives(kind)
        unknown = sorted(set(self.weights) - set(objectives))
        if unknown:
            raise ValueError(f"weights name objectives this search does not have: {unknown}; "
                             f"it has {sorted(objectives)}")
        return sum(weight * objectives[name] for name, weight in self.weights.items())

    def _cost_kind(self) -> str:
        if self.cost != "auto":
            return self.cost
        return "usd" if any(c.cost_usd > 0 for c in self.pool) else "tokens"

    # -- bookkeeping ---------------------------------------------------------------------
    def _restore_best(self) -> Candidate:
        best = self.best()
        if best is not None:
            self.agent.load_state_dict(best.values)
        return best

    def _usage(self) -> Dict[str, Any]:
        usage = self.account.usage
        return {"calls": usage.calls, "total_tokens": usage.total_tokens, "cost_usd": usage.cost_usd}

    def _event(self, event: str, **fields: Any) -> None:
        if self.events is not None:
            self.events.write(event, **fields)

    def _checkpoint(self) -> None:
        if self.run_dir is None:
            return
        version, internal, gauss = self.rng.getstate()
        save_checkpoint(self.run_dir, {
            "kind": "pareto_search", "iteration": self.iteration, "rollouts": self.rollouts,
            "pool": self.pool.to_json(), "rng": [version, list(internal), gauss], "merge_due": self.merge_due,
            "tried_merges": [list(p) for p in self.tried_merges], "history": self.history,
            "optimizer": self.optimizer.state_dict(), "agent": self.agent.state_dict()})
        self._event("checkpoint", iteration=self.iteration, path=str(self.run_dir / CHECKPOINT))


def _signed(objectives: Dict[str, float]) -> Tuple[float, ...]:
    """Objectives all to maximize: cost and latency negated."""
    return tuple(-v if name in ("cost", "latency") else v for name, v in sorted(objectives.items()))


def _check_count(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
