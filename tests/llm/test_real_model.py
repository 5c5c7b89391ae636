"""Smoke test of the real embedded model: no cassette, no stand-in. It starts llama.cpp's server
with SmolLM2-135M, gets a structured reply and runs one optimizer step against it, so a broken
model build (a crash, a wrong CPU path) cannot pass CI. `make test` installs the model and sets
TRACE_OPT_REQUIRE_REAL_MODEL=1, so there a missing install fails instead of skipping; a CPU
without the build's baseline (AVX2, FMA, F16C, BMI2) skips, saying so."""
import os

import pytest
from pydantic import BaseModel

import trace_opt as to
from trace_opt.llm import LLM, build_info, local


def _usable() -> None:
    lacking = build_info.missing_cpu_flags()
    if lacking:
        pytest.skip(f"this CPU cannot run the portable llama.cpp build (lacks {', '.join(lacking)})")
    try:
        local.check_installed()
    except to.llm.LocalModelUnavailable as error:
        if os.environ.get("TRACE_OPT_REQUIRE_REAL_MODEL"):
            pytest.fail(f"the embedded model must be installed here: {error}")
        pytest.skip(f"the embedded model is not installed: {error}")


@pytest.fixture(scope="module")
def real_server():
    _usable()
    server = local.LocalServer()
    previous, local.server = local.server, server
    yield server
    server.stop()
    local.server = previous


def test_the_installed_build_is_the_portable_one():
    _usable()
    info = build_info.system_info()
    assert build_info.problems(info) == [], info


def test_the_real_model_answers_structured_and_an_optimizer_steps(real_server, monkeypatch, tmp_path):
    monkeypatch.setenv("TRACE_OPT_CACHE_DIR", str(tmp_path))  # nothing answered from a cache

    class Answer(BaseModel):
        answer: int

    llm = LLM(cache=False)
    reply = llm.structured("What is 2 + 2? Reply in JSON.", schema=Answer, max_tokens=32)
    assert isinstance(reply.answer, int)
    assert llm.usage.calls >= 1 and llm.usage.completion_tokens > 0 and llm.usage.cost_usd == 0.0
    assert real_server.answers >= 1 and real_server.restarts == 0

    prompt = to.Parameter("Answer the question.", description="system prompt")
    optimizer = to.optim.OptoPrime([prompt], llm=llm, num_candidates=1)
    out = to.ops.llm_call(prompt, "What is 3 * 4?", llm=llm, max_tokens=16)
    out.backward("Wrong: the answer is 12; reply with the number only.")
    report = optimizer.step()
    assert report.candidates, report.skipped           # the model's reply parsed into a proposal
    assert real_server.restarts == 0 and real_server.failures == 0
