"""OpenTelemetry GenAI spans: a training run's LLM calls (real model traffic, replayed from the
cassette of tests/train/test_recorded_compile.py) as CLIENT spans under the run's step spans, in
the SDK's in-memory exporter; message content only when asked for, redacted; and nothing at all
imported or made without OpenTelemetry."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

import trace_opt as to
from trace_opt.llm import telemetry

ROOT = Path(__file__).resolve().parents[2]
COMPILE_CASSETTE = str(ROOT / "cassettes" / "test_recorded_compile" /
                       "test_compile_trains_a_copy_on_example_rows_with_a_dspy_metric.yaml")


@pytest.fixture
def exporter():
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory, provider = InMemorySpanExporter(), TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    yield memory, provider
    telemetry.uninstrument()


def compile_run(local_llm, tmp_path):
    from tests.train.test_recorded_compile import TRAIN, VAL, city_metric
    from agents.few_shot import FewShotAgent

    agent = FewShotAgent(local_llm, "Name the city the sentence mentions. Reply with the city name only.", k=3)
    return to.compile(agent, trainset=TRAIN, valset=VAL, guide=city_metric, batch_size=3, progress=False,
                      optimizer=lambda params: to.optim.BootstrapFewShot(
                          [p for p in params if p.kind == "demos"], trainset=TRAIN, num_candidates=3, seed=0))


@pytest.mark.vcr(COMPILE_CASSETTE)
def test_a_training_runs_llm_calls_are_genai_client_spans_under_its_steps(local_llm, tmp_path, exporter):
    from opentelemetry.trace import SpanKind, StatusCode

    memory, provider = exporter
    telemetry.instrument(tracer_provider=provider)
    compile_run(local_llm, tmp_path)
    spans = memory.get_finished_spans()
    chats = [s for s in spans if s.name == "chat smollm2"]
    steps = [s for s in spans if s.name == "trace_opt.train.step"]
    [run] = [s for s in spans if s.name == "trace_opt.train.run"]
    assert len(chats) >= 20 and len(steps) == 2
    for chat in chats:
        attributes = chat.attributes
        assert chat.kind == SpanKind.CLIENT and chat.status.status_code != StatusCode.ERROR
        assert attributes["gen_ai.operation.name"] == "chat" and attributes["gen_ai.system"] == "openai"
        assert attributes["gen_ai.request.model"] == "smollm2" and attributes["gen_ai.request.temperature"] == 0.0
        assert attributes["gen_ai.usage.input_tokens"] > 0 and attributes["gen_ai.usage.output_tokens"] > 0
        assert attributes["gen_ai.response.finish_reasons"] in (("stop",), ("length",))
        assert attributes["server.address"] == "127.0.0.1" and attributes["server.port"] == 8765
        assert "gen_ai.input.messages" not in attributes and "gen_ai.output.messages" not in attributes
    by_id = {s.context.span_id: s for s in spans}
    parents = {by_id[c.parent.span_id].name for c in chats}
    assert parents == {"trace_opt.train.step", "trace_opt.train.run"}  # steps, and the first validation
    assert all(by_id[s.parent.span_id] is run for s in steps)
    assert [s.attributes["trace_opt.step"] for s in steps] == [1, 2] and steps[0].attributes["trace_opt.accepted"]
    assert run.attributes["trace_opt.steps"] == 2 and run.parent is None


@pytest.mark.vcr(COMPILE_CASSETTE)
def test_message_content_is_recorded_only_when_asked_and_then_redacted(local_llm, tmp_path, exporter, monkeypatch):
    memory, provider = exporter
    phrase = "Reply with the city name only."
    monkeypatch.setenv("ACME_API_KEY", phrase)   # a credential-named variable whose value is in every prompt
    telemetry.instrument(tracer_provider=provider, capture_content=True)
    compile_run(local_llm, tmp_path)
    chat = next(s for s in memory.get_finished_spans() if s.name == "chat smollm2")
    sent = json.loads(chat.attributes["gen_ai.input.messages"])
    answered = json.loads(chat.attributes["gen_ai.output.messages"])
    assert sent[0]["role"] == "system" and "***" in sent[0]["parts"][0]["content"]
    assert phrase not in chat.attributes["gen_ai.input.messages"]
    assert answered[0]["role"] == "assistant" and answered[0]["finish_reason"] in ("stop", "length")


NO_OTEL = """
import sys
sys.modules["opentelemetry"] = None          # as if it were not installed
import trace_opt as to
from trace_opt.llm import telemetry
from trace_opt.llm.client import to_messages
llm = to.LLM(model="openai/smollm2", api_base="http://127.0.0.1:9/v1", api_key="sk-none-needed", cache=sys.argv[1])
request = llm._request(to_messages("hi"), {}, None)
request.cache.put(request.key, llm.model, "hello from the cache", 3, 2)
with telemetry.span("trace_opt.train.step", {"trace_opt.step": 1}) as step:
    step.set({"trace_opt.val_score": 1.0})
    print(llm("hi"), telemetry._tracer(), sorted(m for m in sys.modules if m.startswith("opentelemetry") and sys.modules[m]))
"""


def test_without_opentelemetry_nothing_is_imported_and_calls_work(tmp_path):
    out = subprocess.run([sys.executable, "-c", NO_OTEL, str(tmp_path)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "hello from the cache None []"
