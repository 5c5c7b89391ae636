"""One rollout: the agent run once on one input, with what it cost.

A rollout that raises is a result (its error becomes feedback), never the trainer's crash. Its
LLM calls are counted in a scope of their own opened where the rollout runs (a thread, a task,
a Ray worker), so a search can charge tokens, dollars and seconds to the candidate that spent
them; with a rollout id its sampled replies are cached under that id, so running the same
rollout again (after ``resume()``) gets the same samples.
"""
from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

from ..data import Example
from ..graph import Module, Node, node

log = logging.getLogger("trace_opt.train")


@dataclass
class Rollout:
    output: Optional[Node] = None
    error: Any = None          # the exception, or the executor's RolloutError
    tokens: int = 0            # LLM tokens the rollout's calls used
    cost_usd: float = 0.0
    seconds: float = 0.0       # wall time of the run


def rollout(agent: Module, value: Any) -> Rollout:
    """Run the agent on ``value`` (only the agent travels to where it runs, not the trainer)."""
    return named_rollout(agent, (None, value))


def named_rollout(agent: Module, item: Tuple[Optional[str], Any]) -> Rollout:
    """Run the agent on ``item = (rollout id or None, value)``, the id keying its sampled replies."""
    from ..llm import accounting, rollout_scope

    rollout_id, value = item
    scope = rollout_scope(rollout_id) if rollout_id is not None else contextlib.nullcontext()
    start = time.perf_counter()
    output, error = None, None
    with accounting() as spent, scope:
        try:
            output = node(_finished(_call(agent, value)))
        except Exception as exc:  # the agent's failure is feedback, never the trainer's crash
            error = exc
    usage = spent.usage
    return Rollout(output, error, usage.total_tokens, usage.cost_usd, time.perf_counter() - start)


def _call(agent: Module, value: Any) -> Any:
    """The agent on one input: an Example of several inputs goes in as keyword arguments, each its
    own node (DSPy's ``program(**example.inputs())``); any other value as the one argument."""
    if isinstance(value, Example):
        return agent(**{key: node(field, name=key) for key, field in value.items()})
    return agent(node(value, name="input"))


def _finished(result: Any) -> Any:
    """An async agent's answer: its coroutine run to the end on a loop of this rollout's own (each
    executor runs a rollout where no loop is running; the context, accounting included, goes along)."""
    if not inspect.isawaitable(result):
        return result

    async def wait() -> Any:
        return await result

    return asyncio.run(wait())


def judge(guide: Any, output: Any, target: Any, failures: list, trace: Optional[Node] = None) -> Tuple[Any, float]:
    """(feedback, score) of one output; (None, 0.0) when the guide raised, the error added to
    ``failures`` (the guide's own failure: the agent's output is not to blame), unless it is an
    error that stops the run (a budget spent, an LLM judge whose model is gone). A guide that
    ``takes_trace`` (a DSPy-style metric) also gets the output node, None when only scoring."""
    from ..graph.errors import stops_run
    from ..llm import BudgetExceeded

    try:
        feedback = guide(output, target, trace=trace) if getattr(guide, "takes_trace", False) \
            else guide(output, target)
    except BudgetExceeded:
        raise
    except Exception as exc:
        if stops_run(exc):
            raise
        failures.append(exc)
        log.warning("the guide raised on an output (scored 0, no feedback): %s: %s", type(exc).__name__, exc)
        return None, 0.0
    return feedback, (feedback.score if feedback.score is not None else 0.0)


def send_feedback(guide: Any, results: List[Rollout], batch: List[Tuple[Any, Any]]) -> Tuple[List[float], list, Any]:
    """Judge each output and send its feedback backward (a failed rollout sends its error to the
    node that raised). Returns the scores, the guide's failures and the last output fed; a guide
    that raised on every output is broken, not the agent: its first error is raised."""
    from ..graph import TraceExecutionError

    scores, failures, last = [], [], None
    for result, (_, target) in zip(results, batch):
        if result.output is None:
            error = result.error  # an exception, or the executor's RolloutError
            failed = error.node if isinstance(error, TraceExecutionError) else getattr(error, "node", None)
            if failed is not None:
                failed.backward(f"The run raised an error: {error}")
            log.info("rollout failed: %s: %s", type(error).__name__, error)
            scores.append(0.0)
            continue
        feedback, score = judge(guide, result.output.data, target, failures, trace=result.output)
        if feedback is not None:
            result.output.backward(feedback)
            last = result.output
        scores.append(score)
    judged = sum(result.output is not None for result in results)
    if failures and len(failures) == judged:
        raise failures[0]
    return scores, failures, last
