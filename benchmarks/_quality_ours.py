"""trace_opt's side of the quality benchmark: each optimizer trains a fresh FewShotAgent, as a
user would (the Trainer, validation deciding what is kept), and is scored on held-out rows.

ParetoSearch (issue 13) searches a pool of candidates GEPA's way with the same mutation operator as
the "Trainer:OptoPrime+Demos" row (OptoPrime on the instruction and the code, BootstrapFewShot on
the demonstrations), held to DSPy GEPA's budget: PARETO_ROLLOUTS agent runs in all.

The agent is one LLM call (instructions, up to 4 demonstrations as earlier chat turns) and a
trainable code step that cleans the reply (agents/few_shot.py). Every method starts from the
task's instruction and no demonstrations; calls and tokens are every LLM call of the run,
counted by ``to.llm.accounting``, the held-out evaluation before and after included.
"""
from __future__ import annotations

import sys
import time
from typing import Any, Dict, List

import trace_opt as to
from trace_opt.train import ParetoSearch, Trainer

from _quality_tasks import Task, correct

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))
from agents.few_shot import FewShotAgent  # noqa: E402

METHODS = ("baseline", "OptoPrime", "TextGrad", "OPRO", "LabeledDemos", "BootstrapFewShot", "MIPRO",
           "Trainer:OptoPrime+Demos", "ParetoSearch")
PARETO_ROLLOUTS = 100  # = GEPA_METRIC_CALLS of _quality_peer.py: DSPy GEPA's budget, in agent runs
AGENT_TOKENS = 12  # every answer here is one to three words


def accuracy(agent: FewShotAgent, rows: List[tuple]) -> float:
    with to.no_trace():
        return sum(correct(agent(to.node(text)).data, target) for text, target in rows) / len(rows)


def guide(output: Any, target: str) -> to.Feedback:
    right = correct(output, target)
    shown = str(output).strip()[:60]
    return to.Feedback(text="Correct." if right else f"Wrong: expected {target!r}, got {shown!r}. "
                       "Reply with the answer only.", score=float(right))


def _optimizer(method: str, agent: FewShotAgent, train: List[tuple]) -> Any:
    llm = to.LLM(max_reasks=1, cache=False)  # one re-ask: on this model a broken JSON reply rarely mends
    prompt_and_code = [agent.instructions, agent.extract.parameter]
    if method == "OptoPrime":
        return to.optim.OptoPrime(prompt_and_code, llm=llm)
    if method == "TextGrad":
        return to.optim.TextGrad(prompt_and_code, llm=llm)
    if method == "OPRO":
        return to.optim.OPRO(prompt_and_code, llm=llm)
    if method in ("LabeledDemos", "BootstrapFewShot"):
        return to.optim.BootstrapFewShot([agent.shots], trainset=train, seed=0)
    if method == "MIPRO":
        return to.optim.MIPRO([agent.instructions, agent.shots], llm=llm, trainset=train, seed=0)
    if method in ("Trainer:OptoPrime+Demos", "ParetoSearch"):  # the whole agent: prompt, code and demos
        return to.optim.CompositeOptimizer([to.optim.BootstrapFewShot([agent.shots], trainset=train, seed=0),
                                            to.optim.OptoPrime(prompt_and_code, llm=llm)])
    raise ValueError(f"unknown method {method!r}; known: {', '.join(METHODS)}")


def run(task: Task, method: str, before: Dict[str, Any]) -> Dict[str, Any]:
    """Train with ``method`` and score on the held-out rows; ``before`` is the baseline's row
    (its held-out score and what the evaluation cost, counted into every method's calls)."""
    split = task.splits()
    started = time.perf_counter()
    agent = FewShotAgent(to.LLM(max_tokens=AGENT_TOKENS, cache=False), task.instructions, k=4)
    initial = agent.state_dict()
    row = {"lib": "trace_opt", "method": method, "task": task.name, "before": before["after"], "error": None}
    notes = ""
    with to.llm.accounting() as account:
        try:
            if method == "LabeledDemos":  # labelled rows straight in, spread over the answers: no search
                _optimizer(method, agent, split["train"]).step()
            elif method == "ParetoSearch":
                found = ParetoSearch(agent, _optimizer(method, agent, split["train"]), split["train"], split["val"],
                                     guide, minibatch_size=3, max_rollouts=PARETO_ROLLOUTS, seed=0,
                                     progress=False).fit()
                notes = (f"{found.rollouts} rollouts of max {PARETO_ROLLOUTS}, {found.iterations} iterations, "
                         f"{len(found.pool)} candidates ({', '.join(c.origin for c in found.pool)}); best #"
                         f"{found.best.id} val {found.best.score:.2f}; ended: {found.reason}")
            elif method != "baseline":
                Trainer(agent, _optimizer(method, agent, split["train"]), split["train"], split["val"], guide,
                        batch_size=4, epochs=1, progress=False, seed=0).fit()
            row["after"] = accuracy(agent, split["test"])
        except Exception as exc:  # a method that fails on this model is a result, with its cause
            if isinstance(exc, to.llm.ModelUnreachable):
                raise
            row["after"], row["error"] = None, f"{type(exc).__name__}: {str(exc)[:160]}"
    if method == "baseline":
        row["before"] = row["after"]
    usage = account.usage
    extra_calls = before["calls"] if method != "baseline" else 0
    row.update(calls=usage.calls + extra_calls, opt_calls=usage.calls - len(split["test"]) if method != "baseline" else 0,
               tokens=usage.total_tokens + (before["tokens"] if method != "baseline" else 0),
               wall_s=round(time.perf_counter() - started, 1), changed=describe(agent, initial), notes=notes)
    return row


def describe(agent: FewShotAgent, initial: Dict[str, Any]) -> str:
    parts = []
    for name in agent.changed_since(initial):
        value = dict(agent.named_parameters())[name].data
        if name == "shots":
            parts.append(f"{len(value)} demos ({', '.join(str(d[1]) for d in value)})")
        else:
            parts.append(f"{name}: {' '.join(str(value).split())[:70]!r}")
    return "; ".join(parts) or "nothing"


def baseline(task: Task) -> Dict[str, Any]:
    return run(task, "baseline", {"after": None, "calls": 0, "tokens": 0})

