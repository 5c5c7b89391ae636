"""The same training on Ray: the QA agent of train_qa_agent.py, its rollouts on a Ray cluster.

``RayExecutor()`` starts a local cluster (2 CPUs here) or joins one with ``address=``; the
trainer code does not change. Only the agent travels to the workers; the graphs they return
end at the driver's own parameters, so feedback and the optimizer work as on threads. Each
worker process talks to its own copy of the LLM client (with the embedded model, each worker
starts its own local server on first use).

Run: .venv/bin/python examples/train_on_ray.py   (needs the ray extra: pip install '.[ray]')
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_qa_agent import make_trainer  # noqa: E402 - the same run as the thread example

import trace_opt as to  # noqa: E402
from trace_opt.exec import RayExecutor  # noqa: E402
from trace_opt.report import write_report  # noqa: E402

RUN_DIR = Path("runs") / "qa-ray"


def main() -> int:
    if RUN_DIR.exists():
        shutil.rmtree(RUN_DIR)
    with RayExecutor(num_cpus=2) as executor:
        result = make_trainer(RUN_DIR, epochs=1, executor=executor).fit()
    print(f"on Ray: {result.steps} steps, ended: {result.reason}; best validation score {result.best_val_score}")
    print(f"report: {write_report(RUN_DIR)}")
    return 0


if __name__ == "__main__":
    sys.exit(to.llm.run_main(main))  # a model that never answered: exit 1 with the cause
