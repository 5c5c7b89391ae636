"""A ParetoSearch in its own process, for the kill-and-resume test (scripted fake mutation operator).

python -m tests.train.run_pareto_script RUN_DIR [--kill-at N] [--resume]
"""
import json
import os
import signal
import sys

from trace_opt.train import ParetoSearch

from .fakes import STYLE_ROWS, ScriptedMutation, Styler, exact

SCRIPT = [{"case": "upper"}, {"mark": "!"}, {"case": "lower"}, {"mark": "?"}, {"case": "same"}, {"mark": ""}]


def main(argv):
    run_dir = argv[0]
    kill_at = int(argv[argv.index("--kill-at") + 1]) if "--kill-at" in argv else None

    def killer(search, record):
        if record["iteration"] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no flush: like a crash or OOM kill

    agent = Styler()
    search = ParetoSearch(agent, ScriptedMutation(agent, SCRIPT), STYLE_ROWS, STYLE_ROWS[::-1], exact,
                          minibatch_size=4, max_iterations=8, checkpoint_dir=run_dir, callbacks=[killer],
                          progress=False, seed=4)
    result = search.resume() if "--resume" in argv else search.fit()
    pool = [{k: v for k, v in c.to_json().items() if k != "seconds"} for c in result.pool]  # wall time varies
    print(json.dumps({"pool": pool, "best": result.best.id, "rollouts": result.rollouts,
                      "iterations": result.iterations, "values": agent.state_dict()}, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1:])
