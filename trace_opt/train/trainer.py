"""Trainer: run an agent on minibatches, turn its outputs into feedback, step the optimizer,
keep an update only if it improves validation, and never lose a step already paid for.

Each step: the minibatch's rollouts run (on threads by default, or asyncio; a rollout that raises
becomes feedback, not a crash), the guide judges every output, the feedback goes backward
and the optimizer steps; one that chooses among candidates (``takes_evaluate``) is handed the
validation score to choose by. Guards then undo changes that bloat a parameter past
``max_param_chars`` or copy a training example verbatim; validation runs, and a change that does
not raise the best validation score by more than nothing (and by ``min_delta``) is rolled back:
a tie keeps the incumbent (``keep_ties=True`` restores the old rule, for searches that must walk
across plateaus). Validation scores are remembered per parameter values, so a candidate the
optimizer already scored is not run again. After every step a checkpoint is written
atomically (with what ``trace-opt export`` needs to write the kept values as ``Module.save`` does)
and an event appended to ``events.jsonl`` and sent to every sink (``sinks=``: MLflow, W&B, see
train/sinks); ``resume()`` continues a killed run
from its last checkpoint. A ``BudgetExceeded`` anywhere ends the run cleanly: the step in
flight is undone and the last checkpoint stays as it was.

Other faults: a guide that raises on an output scores it 0 and sends no feedback (the agent
is not to blame); one that raises on every output of a step is broken and stops the run. A
SIGTERM lets the step in flight finish and be checkpointed, then ends the run
("interrupted"); a second SIGTERM gets the handler that was there before (by default: exit).
Any other error (a checkpoint that a full disk refused, an optimizer that raised) undoes the
unfinished step, logs ``run_end`` with reason "error" and is raised; ``checkpoint.json``
then still holds the last step that was written whole, for ``resume()``.
"""
from __future__ import annotations

import functools
import json
import logging
import math
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from ..data import as_pair, texts
from ..graph import Module, Node, no_trace, to_json
from ..graph.errors import stops_run
from ..exec import as_executor
from ..optim.base import takes_evaluate
from ..optim.composite import as_optimizer
from ..optim.report import StepReport
from ..graph.serialize import remove_stale_temps, write_json_atomic
from .checkpoint import CHECKPOINT, checked_state, load_checkpoint, save_checkpoint
from .events import json_value
from .guide import as_guide
from .progress import ProgressBar
from .run_log import RunLog, optional_log
from .rollouts import Rollout, judge, rollout, send_feedback
from .sigterm import GracefulSigterm

log = logging.getLogger("trace_opt.train")
GRAPH = "graph.json"  # the last step's trace, beside the checkpoint
COPY_MIN_CHARS = 20  # a training string at least this long found verbatim in a parameter is a copy
VAL_MEMORY = 256     # validation scores remembered (per set of parameter values)


@dataclass
class TrainResult:
    steps: int
    best_val_score: Optional[float]
    reason: str
    history: List[Dict[str, Any]] = field(default_factory=list)


class Trainer:
    """Trains ``agent`` (a Module) with ``optimizer`` on ``train`` rows: (input, target) pairs,
    {"input", "target"} dicts or ``Example`` rows with their inputs marked."""

    def __init__(self, agent: Module, optimizer: Any, train: Sequence[Any], val: Optional[Sequence[Any]] = None,
                 guide: Any = None, *, batch_size: int = 4, epochs: int = 1, executor: Any = None,
                 checkpoint_dir: Union[str, Path, None] = None, budget: Any = None,
                 callbacks: Sequence[Callable[["Trainer", Dict[str, Any]], Any]] = (),
                 max_param_chars: Optional[int] = None, reject_copies: bool = True, patience: Optional[int] = None,
                 seed: int = 0, progress: Optional[bool] = None, min_delta: float = 0.0,
                 keep_ties: bool = False, sinks: Sequence[Any] = ()) -> None:
        if not isinstance(agent, Module):
            raise TypeError(f"Trainer needs a trace_opt Module as agent, got {type(agent).__name__}")
        optimizer = as_optimizer(optimizer, "Trainer")  # the one optimizer contract (torch.optim ones adapted)
        if guide is None:
            raise TypeError("Trainer needs a guide: a function (output, target) -> feedback, or a Guide")
        for name, value in (("batch_size", batch_size), ("epochs", epochs)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.agent, self.optimizer, self.guide = agent, optimizer, as_guide(guide)
        self.train, self.val = [as_pair(r, "train") for r in train], [as_pair(r, "val") for r in (val or [])]
        if not self.train:
            raise ValueError("train is empty")
        self.batch_size, self.epochs, self.seed = batch_size, epochs, seed
        if isinstance(min_delta, bool) or not isinstance(min_delta, (int, float)) or not 0 <= min_delta < math.inf:
            raise ValueError(f"min_delta must be a number >= 0, got {min_delta!r}")
        self.min_delta, self.keep_ties = float(min_delta), bool(keep_ties)
        self._val_scores: Dict[str, float] = {}  # validation score per parameter values (bounded)
        self.executor = as_executor(executor)  # threads unless told otherwise; results come back in order
        self.run_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.callbacks, self.max_param_chars = list(callbacks), max_param_chars
        self.reject_copies, self.patience = reject_copies, patience
        self.progress = sys.stderr.isatty() if progress is None else progress
        from ..llm import Account, Budget

        if budget is not None and not isinstance(budget, Budget):
            raise TypeError(f"budget must be a trace_opt.llm.Budget or None, got {type(budget).__name__}")
        self.budget = budget  # charged by every LLM call of the run, whichever object makes it
        self.account = Account(None)  # what this run's calls spent (replaced by fit()'s scope)
        self.sinks = list(sinks)  # MLflow, W&B, ...: every event goes to them too
        self.events = optional_log(self.run_dir, self.sinks)
        self.step_count, self.best_val, self.since_best, self.history = 0, None, 0, []
        self._last_output: Optional[Node] = None

    # -- public --------------------------------------------------------------------------
    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.train) / self.batch_size)

    def fit(self) -> TrainResult:
        """Train from the current step to the end; returns what happened. Every LLM call of the run
        (the agent's, however deep, the optimizer's, the guide's) is counted in ``self.account``
        and checked against the run's budget."""
        from ..llm import accounting, telemetry

        with accounting(self.budget) as account, telemetry.span("trace_opt.train.run", {
                "trace_opt.agent": type(self.agent).__name__, "trace_opt.optimizer": type(self.optimizer).__name__,
                "trace_opt.train.rows": len(self.train), "trace_opt.val.rows": len(self.val)}) as run:
            self.account = account
            result = self._fit()
            run.set({"trace_opt.steps": result.steps, "trace_opt.best_val_score": result.best_val_score,
                     "trace_opt.reason": result.reason})
            return result

    def _fit(self) -> TrainResult:
        from ..llm import BudgetExceeded, health

        total = self.steps_per_epoch * self.epochs
        self._event("run_start", agent=type(self.agent).__name__, optimizer=type(self.optimizer).__name__,
                    config={"batch_size": self.batch_size, "epochs": self.epochs, "seed": self.seed,
                            "train": len(self.train), "val": len(self.val)},
                    parameters=self._values(), resumed_from=self.step_count or None)
        heard = health.snapshot()
        if self.val and self.best_val is None:
            try:
                self.best_val = self._validate()
            except Exception as exc:
                self._end_with_error(exc, self.agent.state_dict(), self.step_count)
                raise
        reason, message = "done", ""
        bar = ProgressBar(total, self.progress)
        try:
            with GracefulSigterm() as sigterm:
                while self.step_count < total:
                    if sigterm.received:
                        kept = ", checkpointed" if self.run_dir is not None else ""
                        reason, message = "interrupted", f"SIGTERM: stopped after step {self.step_count}{kept}"
                        log.warning("%s", message)
                        break
                    snapshot, number = self.agent.state_dict(), self.step_count + 1
                    try:
                        record = self._step(number, snapshot)
                    except BudgetExceeded as exc:
                        self.agent.load_state_dict(snapshot)
                        reason, message = "budget", str(exc)
                        break
                    except Exception as exc:
                        self._end_with_error(exc, snapshot, number)
                        raise
                    except KeyboardInterrupt as exc:  # Ctrl-C: the same clean end, said as what it was
                        self._end_with_error(exc, snapshot, number, reason="interrupted")
                        raise
                    bar.update(record, self._usage())
                    if any(callback(self, record) == "stop" for callback in self.callbacks):
                        reason = "stopped"
                        break
                    if self.patience is not None and self.since_best >= self.patience:
                        reason = "early_stop"
                        break
        finally:
            bar.close()
        silent = health.never_answered(since=heard)
        if silent is not None:  # calls were made and all failed: the scores are not a result
            self._end_with_error(silent, self.agent.state_dict(), self.step_count)
            raise silent
        self._event("run_end", reason=reason, message=message, best_val_score=self.best_val, steps=self.step_count)
        log.info("training ended (%s) after %d steps; best validation score %s", reason, self.step_count, self.best_val)
        return TrainResult(self.step_count, self.best_val, reason, list(self.history))

    def resume(self, run_dir: Union[str, Path, None] = None) -> TrainResult:
        """Continue a run from its last checkpoint (the agent and optimizer as they were built)."""
        if run_dir is not None:
            self.run_dir, self.events = Path(run_dir), RunLog(run_dir, self.sinks)
        if self.run_dir is None:
            raise ValueError("resume() needs the run's checkpoint_dir")
        state = checked_state(load_checkpoint(self.run_dir))
        for name in (CHECKPOINT, GRAPH):
            remove_stale_temps(self.run_dir / name)  # a write that a kill cut short left its temp file
        self.agent.load_state_dict(state["agent"])
        if state.get("optimizer") is not None:
            self.optimizer.load_state_dict(state["optimizer"])
        self.step_count, self.best_val = state["step"], state["best_val_score"]
        self.since_best, self.history = state["since_best"], state["history"]
        return self.fit()

    def evaluate(self, rows: Sequence[Any]) -> float:
        """Mean guide score over rows, without building a graph (a rollout that raises scores 0)."""
        rows = [as_pair(row, "evaluation") for row in rows]
        with no_trace():
            results = self._rollouts([row[0] for row in rows])
        failures: List[Exception] = []
        return mean(self._judge_row(result, target, failures)[1] if result.output is not None else 0.0
                    for result, (_, target) in zip(results, rows))

    def _validate(self) -> float:
        """The validation score of the current parameter values, each set of values run once."""
        key = self._values_key()
        if key is None or key not in self._val_scores:
            score = self.evaluate(self.val)
            if key is None:
                return score
            if len(self._val_scores) >= VAL_MEMORY:
                self._val_scores.pop(next(iter(self._val_scores)))
            self._val_scores[key] = score
        return self._val_scores[key]

    def _values_key(self) -> Optional[str]:
        """The parameter values as a key (None when a tensor is among them: too big, and it moves every step)."""
        params = self.agent.named_parameters()
        if any(p.kind == "tensor" for _, p in params):
            return None
        return json.dumps({name: json_value(p.data) for name, p in params}, sort_keys=True, default=repr)

    def _refusal(self, val_score: float) -> Optional[str]:
        """Why a change scoring ``val_score`` on validation is not kept (None: it is)."""
        if self.best_val is None:
            return None
        gain = val_score - self.best_val
        if gain < 0:
            return f"validation fell from {self.best_val:.4g} to {val_score:.4g}"
        if gain == 0 and self.keep_ties:
            return None
        if gain == 0:
            return f"validation did not improve ({val_score:.4g}, a tie keeps the current values)"
        if gain < self.min_delta:
            return f"validation rose by {gain:.4g}, less than min_delta={self.min_delta:g}"
        return None

    # -- one step ------------------------------------------------------------------------
    def _step(self, number: int, snapshot: Dict[str, Any]) -> Dict[str, Any]:
        """One step inside its span (the parent of the step's LLM calls: rollouts, optimizer, validation)."""
        from ..llm import telemetry

        with telemetry.span("trace_opt.train.step", {"trace_opt.step": number}) as span:
            record = self._run_step(number, snapshot)
            span.set({f"trace_opt.{key}": record[key] for key in ("epoch", "train_score", "val_score", "accepted",
                                                                   "rolled_back")})
            return record

    def _run_step(self, number: int, snapshot: Dict[str, Any]) -> Dict[str, Any]:
        epoch, batch = self._batch(number)
        self.optimizer.zero_feedback()
        results = self._rollouts([row[0] for row in batch])
        scores, guide_failed = self._send_feedback(results, batch)
        if self.val and takes_evaluate(self.optimizer):
            stepped = self.optimizer.step(evaluate=self._validate)
        else:
            stepped = self.optimizer.step()
        report = StepReport.of(stepped, type(self.optimizer).__name__)
        notes = report.skip_reasons() + self._guard(snapshot)
        val_score, rolled_back, reason = None, False, None
        if self.val:
            val_score = self._validate()
            reason = self._refusal(val_score) if self.agent.changed_since(snapshot) else None
            if reason is not None:
                self.agent.load_state_dict(snapshot)
                rolled_back = True
                self.since_best += 1
            elif self.best_val is None or val_score > self.best_val:
                self.best_val, self.since_best = val_score, 0
            else:
                self.since_best += 1
        changed = bool(self.agent.changed_since(snapshot)) if not rolled_back else False
        self.step_count = number
        record = {"epoch": epoch, "step": number, "train_score": mean(scores) if scores else None,
                  "val_score": val_score, "accepted": changed, "rolled_back": rolled_back,
                  "reason": "; ".join(([reason] if reason else []) + guide_failed + notes) or None,
                  "usage": self._usage(),
                  "parameters": self._values(), "proposals": _proposals(report)}
        self.history.append({k: record[k] for k in ("step", "train_score", "val_score", "accepted", "rolled_back")})
        self._event("step", **record)
        self._checkpoint()
        return record

    def _batch(self, number: int) -> Tuple[int, List[Tuple[Any, Any]]]:
        epoch, index = divmod(number - 1, self.steps_per_epoch)
        order = list(range(len(self.train)))
        random.Random(self.seed + epoch).shuffle(order)
        picked = order[index * self.batch_size:(index + 1) * self.batch_size]
        return epoch + 1, [self.train[i] for i in picked]

    def _rollouts(self, inputs: List[Any]) -> List[Rollout]:
        self.agent.parameters()  # code parameters exist before a rollout travels (Ray links them back)
        results = [r if isinstance(r, Rollout) else Rollout(error=r)  # r: a RolloutError from the executor
                   for r in self.executor.map(functools.partial(rollout, self.agent), inputs)]
        for result in results:  # the model itself is gone (not this rollout's fault): the run stops
            cause = getattr(result.error, "exception", None) or result.error
            if cause is not None and stops_run(cause):
                raise cause
        return results

    def _send_feedback(self, results: List[Rollout], batch: List[Tuple[Any, Any]]) -> Tuple[List[float], List[str]]:
        """Judge each output and send its feedback backward (a failed rollout sends its error).
        Returns the scores and a note when the guide raised; on every output, it is broken: raised."""
        scores, failures, last = send_feedback(self.guide, results, batch)
        self._last_output = last or self._last_output
        judged = sum(result.output is not None for result in results)
        return scores, [f"the guide raised on {len(failures)} of {judged} outputs (scored 0, no feedback): "
                        f"{type(failures[0]).__name__}: {failures[0]}"] if failures else []

    def _judge_row(self, result: Rollout, target: Any, failures: List[Exception]) -> Tuple[Any, float]:
        """(feedback, score); (None, 0.0) when the guide raised, the error added to ``failures``."""
        return judge(self.guide, result.output.data, target, failures)

    def _guard(self, snapshot: Dict[str, Any]) -> List[str]:
        """Undo changes that bloat a parameter or copy a training example into it."""
        notes = []
        examples = [text for row in self.train for text in texts(row) if len(text) >= COPY_MIN_CHARS]
        changed = set(self.agent.changed_since(snapshot))
        for name, param in self.agent.named_parameters():
            value = param.data
            if not isinstance(value, str) or name not in changed:
                continue
            if self.max_param_chars is not None and len(value) > self.max_param_chars:
                notes.append(f"{name}: {len(value)} characters is over max_param_chars={self.max_param_chars}; undone")
            elif self.reject_copies and param.kind == "text" and any(e in value for e in examples):
                notes.append(f"{name}: copies a training example verbatim; undone")
            else:
                continue
            param.data = snapshot[name]
            log.info("guard: %s", notes[-1])
        return notes

    # -- bookkeeping ---------------------------------------------------------------------
    def _values(self) -> Dict[str, Any]:
        return {name: json_value(p.data) for name, p in self.agent.named_parameters()}

    def _usage(self) -> Dict[str, Any]:
        usage = self.account.usage
        return {"calls": usage.calls, "total_tokens": usage.total_tokens, "cost_usd": usage.cost_usd}

    def _event(self, kind: str, **fields: Any) -> None:
        if self.events is not None:
            self.events.write(kind, **fields)

    def _end_with_error(self, exc: BaseException, snapshot: Dict[str, Any], number: int, reason: str = "error") -> None:
        """Before an error leaves fit(): a step that did not finish is undone (nothing of it was
        checkpointed; one that finished but failed to checkpoint is kept, resume() redoes it), and
        run_end says why, if the disk still takes it."""
        if self.step_count < number:
            self.agent.load_state_dict(snapshot)
        message = f"{type(exc).__name__}: {exc}"
        cause = "by an error" if reason == "error" else "(interrupted)"
        log.error("training stopped %s after %d steps: %s", cause, self.step_count, message)
        try:
            self._event("run_end", reason=reason, message=message, best_val_score=self.best_val,
                        steps=self.step_count)
        except OSError as failure:
            log.error("run_end not logged: %s", failure)

    def _checkpoint(self) -> None:
        if self.run_dir is None:
            return
        optimizer_state = self.optimizer.state_dict()
        try:
            path = save_checkpoint(self.run_dir, {"step": self.step_count, "agent": self.agent.state_dict(),
                                                  "agent_file": self.agent.described(),  # trace-opt export
                                                  "optimizer": optimizer_state, "best_val_score": self.best_val,
                                                  "since_best": self.since_best, "history": self.history})
        except OSError as exc:  # a full disk: the write left the previous checkpoint as it was
            failure = OSError(f"the checkpoint of step {self.step_count} was not written ({exc}); "
                              f"{self.run_dir / CHECKPOINT} still holds the previous one")
            failure.errno = exc.errno
            raise failure from exc
        if self._last_output is not None:
            write_json_atomic(self.run_dir / GRAPH, json.loads(to_json(self._last_output)))
        self._event("checkpoint", step=self.step_count, path=str(path))


def _proposals(report: StepReport) -> List[Dict[str, Any]]:
    """Every suggestion of the step (of each part of a composite's) with its fate, for the log."""
    return [{"name": p.name, "value": json_value(p.value), "accepted": p.accepted, "reason": p.reason}
            for p in report.proposals]
