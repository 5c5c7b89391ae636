"""A synthetic run directory as a trainer would leave it: events.jsonl and graph.json.

Holds a rollback, text, code, number and tensor-summary values, and hostile LLM text.
"""
from pathlib import Path

import trace_opt as to
from trace_opt.train.events import EventLog

HOSTILE = "<script>alert(1)</script> and </details> closing early"
CODE_0 = "def extract(self, reply):\n    return reply.strip()\n"
CODE_1 = "def extract(self, reply):\n    lines = reply.strip().splitlines()\n    return lines[-1]\n"
PROMPT_0 = "Answer the question."
PROMPT_1 = "Answer the question.\nReply with the number only."
TENSOR_0 = {"tensor": [3], "dtype": "float32", "norm": 0.0}
TENSOR_1 = {"tensor": [3], "dtype": "float32", "norm": 1.25}


def make_run(run_dir: Path, graph: bool = True) -> Path:
    log = EventLog(run_dir)
    params = {"instructions": PROMPT_0, "extract": CODE_0, "temperature": 0.7, "w": TENSOR_0}
    log.write("run_start", agent="Solver", optimizer="OptoPrime", config={"batch_size": 2, "epochs": 2},
              parameters=dict(params), resumed_from=None)
    usage = {"calls": 0, "total_tokens": 0, "cost_usd": 0.0}

    def step(n, train, val, accepted, changes, proposals, reason=None):
        usage.update(calls=usage["calls"] + 3, total_tokens=usage["total_tokens"] + 1200,
                     cost_usd=round(usage["cost_usd"] + 0.0021, 6))
        if accepted:
            params.update(changes)
        log.write("step", epoch=1 + (n - 1) // 2, step=n, train_score=train, val_score=val, accepted=accepted,
                  rolled_back=not accepted, reason=reason, usage=dict(usage), parameters=dict(params),
                  proposals=proposals)

    step(1, 0.25, 0.4, True, {"instructions": PROMPT_1, "temperature": 0.3},
         [{"name": "instructions", "value": PROMPT_1, "accepted": True, "reason": None},
          {"name": "temperature", "value": 0.3, "accepted": True, "reason": None}])
    step(2, 0.5, 0.2, False, {"instructions": HOSTILE},
         [{"name": "instructions", "value": HOSTILE, "accepted": False,
           "reason": "validation fell </details><script>alert(2)</script>"}], reason="validation score fell")
    log.write("checkpoint", step=2, path=str(run_dir / "checkpoints" / "step-2"))
    step(3, 0.5, 0.6, True, {"extract": CODE_1, "w": TENSOR_1},
         [{"name": "extract", "value": CODE_1, "accepted": True, "reason": None},
          {"name": "w", "value": TENSOR_1, "accepted": True, "reason": None}])
    log.write("run_end", reason="early_stop", message="no improvement for 2 steps", best_val_score=0.6, steps=3)
    if graph:
        (Path(run_dir) / "graph.json").write_text(to.graph.to_json(_traced_output()), encoding="utf-8")
    return Path(run_dir)


def _traced_output():
    prompt = to.Parameter(HOSTILE, description="system prompt")

    @to.bundle()
    def ask(instructions, question):
        """Pretend to call a model."""
        return f"{instructions} {question} 12"

    return ask(prompt, to.node("What is 3 * 4?"))
