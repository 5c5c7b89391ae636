"""A training run in its own process, for the kill-and-resume test.

python -m tests.train.run_script RUN_DIR [--kill-at N] [--resume]
"""
import os
import signal
import sys

from trace_opt.train import Trainer

from .fakes import TRAIN, VAL, Echo, ScriptedOptimizer, exact


def main(argv):
    run_dir = argv[0]
    kill_at = int(argv[argv.index("--kill-at") + 1]) if "--kill-at" in argv else None

    def killer(trainer, record):
        if record["step"] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no flush: like a crash or OOM kill

    agent = Echo()
    opt = ScriptedOptimizer(agent.parameters(), ["whisper", "shout", "repeat", "shout loud", "whisper"])
    trainer = Trainer(agent, opt, TRAIN, VAL, exact, batch_size=1, epochs=2, checkpoint_dir=run_dir,
                      callbacks=[killer], progress=False, seed=3)
    result = trainer.resume() if "--resume" in argv else trainer.fit()
    print(result.steps, agent.prompt.data, result.best_val_score)


if __name__ == "__main__":
    main(sys.argv[1:])
