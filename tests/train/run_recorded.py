"""A Trainer run with OptoPrime on the local model, HTTP replayed from (or recorded to) a cassette,
in its own process: for the kill-and-resume test on real-model traffic.

python -m tests.train.run_recorded RUN_DIR CASSETTE [--kill-at N] [--resume] [--record]
"""
import os
import signal
import sys

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import vcr  # noqa: E402

import trace_opt as to  # noqa: E402
from trace_opt.llm import LLM  # noqa: E402
from trace_opt.train import Trainer  # noqa: E402

from ..conftest import LOCAL_API_BASE  # noqa: E402
from .fakes import TRAIN, VAL, Echo  # noqa: E402
from .test_recorded_training import guide  # noqa: E402


def main(argv):
    run_dir, cassette = argv[0], argv[1]
    kill_at = int(argv[argv.index("--kill-at") + 1]) if "--kill-at" in argv else None

    def killer(trainer, record):
        if record["step"] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    recorder = vcr.VCR(record_mode="all" if "--record" in argv else "none", decode_compressed_response=True,
                       match_on=["method", "host", "port", "path", "body"],
                       filter_headers=["authorization", "x-api-key", "api-key", "openai-organization"])
    with recorder.use_cassette(cassette):
        llm = LLM(model="openai/smollm2", api_base=LOCAL_API_BASE, api_key="sk-no-key-needed", cache=False)
        agent = Echo()
        opt = to.optim.OptoPrime(agent.parameters(), llm=llm, num_candidates=2)
        trainer = Trainer(agent, opt, TRAIN, VAL, guide, batch_size=2, epochs=2, checkpoint_dir=run_dir,
                          callbacks=[killer], progress=False, executor="thread")
        result = trainer.resume() if "--resume" in argv else trainer.fit()
    print(result.steps, repr(agent.prompt.data), result.best_val_score, [h["val_score"] for h in result.history])


if __name__ == "__main__":
    main(sys.argv[1:])
