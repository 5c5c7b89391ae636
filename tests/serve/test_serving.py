"""Serving a trained agent: `trace-opt export` writes what Module.load() reads, and
examples/serve_agent.py answers concurrent HTTP requests with the trained parameters, untraced,
with no optimizer imported. Training is a real Trainer step; every LLM is a ScriptedLLM fake (NOT a
model); the HTTP is real (uvicorn on 127.0.0.1, httpx clients)."""
import asyncio
import contextlib
import importlib.util
import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn

import trace_opt as to
from agents.qa import QAAgent
from trace_opt.llm import ScriptedLLM
from trace_opt.train import Trainer, launch

ROOT = Path(__file__).resolve().parents[2]
ENTRY = "tests.serve.test_serving:make_trainer"  # the run's factory, as `trace-opt run` records it
MARKER = "ZEBRA"  # only the trained instructions hold it
TRAINED_INSTRUCTIONS = f"Compute the product. Reply as {MARKER}: <number>."
TRAINED_EXTRACT = ('def extract(self, reply: str) -> str:\n    """Keep what follows the colon."""\n'
                   '    return reply.split(":")[-1].strip()\n')
MODEL_SECONDS = 0.2  # how long the served fake takes per call, like a blocking model request
HEAVY = ("trace_opt.optim.llm", "trace_opt.optim.search", "trace_opt.optim.numeric", "trace_opt.train")


def question(n):
    return f"What is {n} times 7?"


def scripted_model(messages):
    """The agent's model, a scripted fake (NOT a model): it multiplies the numbers of the question,
    but answers in the trained format only when the system prompt holds the trained marker."""
    system, asked = messages[0]["content"], messages[-1]["content"]
    a, b = map(int, re.findall(r"\d+", asked))
    return f"{MARKER}: {a * b}" if MARKER in system else "I am not sure."


def exact(output, target):
    return to.Feedback(text="right" if output == target else f"expected {target!r}", score=float(output == target))


def make_trainer(run_dir):
    """The run: a QA agent on the scripted fake, OptoPrime driven by a scripted fake optimizer LLM
    that proposes the trained instructions and extraction code (one step: 2 rows, batch of 2)."""
    agent = QAAgent(ScriptedLLM([scripted_model]), instructions="Answer the question.")
    proposal = ScriptedLLM.suggestion({"instructions": TRAINED_INSTRUCTIONS, "extract": TRAINED_EXTRACT})
    optimizer = to.optim.OptoPrime(agent.parameters(), llm=ScriptedLLM([proposal]))
    rows = [(question(2), "14"), (question(3), "21")]
    return Trainer(agent, optimizer, rows, rows, exact, batch_size=2, checkpoint_dir=run_dir, progress=False)


def cli(*args):
    return subprocess.run([sys.executable, "-m", "trace_opt.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def serve_agent():
    """examples/serve_agent.py, imported as its own script would be."""
    spec = importlib.util.spec_from_file_location("serve_agent", ROOT / "examples" / "serve_agent.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def serving(app):
    """uvicorn serving ``app`` on a free loopback port, in a thread; stopped on the way out."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    assert not thread.is_alive(), "uvicorn did not stop"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run directory trained for one real step, started as `trace-opt run` starts one."""
    run_dir = tmp_path_factory.mktemp("run")
    result = launch.start(ENTRY, run_dir)
    steps = [e for e in to.train.read_events(run_dir) if e["event"] == "step"]
    assert (result.steps, result.best_val_score) == (1, 1.0), (result, [s["reason"] for s in steps])
    return run_dir


@pytest.fixture(scope="module")
def exported(run_dir):
    done = cli("export", str(run_dir))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(run_dir / "agent.json")
    return run_dir / "agent.json"


FRESH_PROCESS = """
import json, sys, threading, time
sys.path.insert(0, "examples")  # as when the script runs itself
import httpx, uvicorn
import trace_opt as to
from trace_opt.llm import ScriptedLLM
from serve_agent import build_app, load_agent

tracing = []
def scripted_model(messages):  # a scripted fake (NOT a model): notes whether a graph is being built
    tracing.append(to.is_tracing())
    return "ZEBRA: 35" if "ZEBRA" in messages[0]["content"] else "I am not sure."

agent = load_agent("qa", sys.argv[1], ScriptedLLM([scripted_model]))
server = uvicorn.Server(uvicorn.Config(build_app(agent), host="127.0.0.1", port=0, log_level="warning"))
threading.Thread(target=server.run, daemon=True).start()
while not server.started:
    time.sleep(0.01)
port = server.servers[0].sockets[0].getsockname()[1]
reply = httpx.post(f"http://127.0.0.1:{port}/answer", json={"question": "What is 5 times 7?"}).json()
server.should_exit = True
heavy = %r
print(json.dumps({"values": agent.state_dict(), "isolated": agent.extract.parameter.code_runner is not None,
                  "reply": reply, "tracing": tracing,
                  "imported": sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in heavy))}))
"""


def test_export_writes_the_trained_values_in_the_module_file_format(run_dir, exported):
    document = json.loads(exported.read_text(encoding="utf-8"))
    assert (document["format"], document["module"]) == ("trace_opt.module", "QAAgent")
    params = document["parameters"]
    assert params["instructions"] == {"kind": "text", "value": TRAINED_INSTRUCTIONS}
    assert (params["extract"]["kind"], params["extract"]["value"]) == ("code", TRAINED_EXTRACT)
    assert params["extract"]["runner"]["isolated"] is True  # code OptoPrime accepted stays isolated
    out = run_dir / "elsewhere" / "trained.json"
    done = cli("export", str(run_dir), "--out", str(out))
    assert done.returncode == 0 and done.stdout.strip() == str(out), done.stderr
    assert json.loads(out.read_text(encoding="utf-8")) == document


def test_a_fresh_process_loads_the_export_and_serves_it_untraced_without_optimizers(exported):
    done = subprocess.run([sys.executable, "-c", FRESH_PROCESS % (HEAVY,), str(exported)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["values"] == {"instructions": TRAINED_INSTRUCTIONS, "temperature": 0.0, "extract": TRAINED_EXTRACT}
    assert seen["isolated"] and seen["reply"] == {"answer": "35"}
    assert seen["tracing"] == [False]  # the agent ran with tracing off
    assert seen["imported"] == []      # no optimizer, no trainer


class SlowScriptedModel:
    """`scripted_model` taking MODEL_SECONDS per call, as a blocking model request does (a fake);
    it notes how many calls run at once and whether a graph was being built."""

    def __init__(self):
        self.lock, self.running, self.peak, self.tracing = threading.Lock(), 0, 0, []

    def __call__(self, messages):
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
            self.tracing.append(to.is_tracing())
        try:
            time.sleep(MODEL_SECONDS)
            return scripted_model(messages)
        finally:
            with self.lock:
                self.running -= 1


async def post_all(url, bodies):
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        return await asyncio.gather(*(client.post("/answer", json=body) for body in bodies))


def test_32_concurrent_requests_are_answered_with_the_trained_parameters(exported):
    example, model = serve_agent(), SlowScriptedModel()
    llm = ScriptedLLM([model])
    numbers = range(10, 42)
    with serving(example.build_app(example.load_agent("qa", str(exported), llm))) as url:
        started = time.monotonic()
        replies = asyncio.run(post_all(url, [{"question": question(n)} for n in numbers]))
        elapsed = time.monotonic() - started
    assert [r.status_code for r in replies] == [200] * 32
    assert [r.json() for r in replies] == [{"answer": str(n * 7)} for n in numbers]  # trained prompt and code
    assert {call[0]["content"] for call in llm.calls} == {TRAINED_INSTRUCTIONS}
    assert model.tracing == [False] * 32
    assert model.peak >= 8, f"at most {model.peak} requests ran at once"
    assert elapsed < 32 * MODEL_SECONDS / 2, f"32 requests took {elapsed:.2f} s: they did not overlap"


def test_bad_bodies_get_422_and_health_answers(exported):
    example = serve_agent()
    agent = example.load_agent("qa", str(exported), ScriptedLLM([scripted_model]))
    with serving(example.build_app(agent)) as url:
        assert httpx.get(f"{url}/health").json() == {"status": "ok", "agent": "QAAgent"}
        for body in ({"q": "What is 2 times 7?"}, {"question": ""}, {"question": ["a list"]}):
            assert httpx.post(f"{url}/answer", json=body).status_code == 422, body
        not_json = httpx.post(f"{url}/answer", content=b"{not json", headers={"content-type": "application/json"})
        assert not_json.status_code == 422


def test_an_agent_error_is_a_short_500_without_secrets():
    example, key = serve_agent(), "sk-" + "k3y" * 8
    failing = ScriptedLLM([RuntimeError(f"upstream refused the key {key}\n  File 'client.py', line 3")])
    with serving(example.build_app(QAAgent(failing))) as url:
        reply = httpx.post(f"{url}/answer", json={"question": "What is 2 times 7?"})
    assert reply.status_code == 500
    detail = reply.json()["detail"]
    assert detail.startswith("the agent failed: TraceExecutionError: llm_call raised RuntimeError"), detail
    assert key not in reply.text and "File" not in reply.text and "Traceback" not in reply.text


def test_export_names_what_is_wrong(run_dir, exported, tmp_path):
    missing = cli("export", str(tmp_path / "nothing"))
    assert missing.returncode == 2 and "nothing does not exist" in missing.stderr
    empty = cli("export", str(tmp_path))
    assert empty.returncode == 2 and "has no checkpoint.json" in empty.stderr
    checkpoint = (run_dir / "checkpoint.json").read_text(encoding="utf-8")
    torn = tmp_path / "torn"
    torn.mkdir()
    (torn / "checkpoint.json").write_text(checkpoint[: len(checkpoint) // 2], encoding="utf-8")  # a cut write
    corrupt = cli("export", str(torn))
    assert corrupt.returncode == 2 and "is not a usable checkpoint" in corrupt.stderr
    unnamed = tmp_path / "from_python"  # a run started from Python records no entry: its checkpoint
    unnamed.mkdir()                     # describes the agent, and without that (an older run) --entry is needed
    (unnamed / "checkpoint.json").write_text(checkpoint, encoding="utf-8")
    from_checkpoint = cli("export", str(unnamed), "--out", str(tmp_path / "from_checkpoint.json"))
    assert from_checkpoint.returncode == 0, from_checkpoint.stderr
    assert (tmp_path / "from_checkpoint.json").read_text(encoding="utf-8") == exported.read_text(encoding="utf-8")
    older = json.loads(checkpoint)
    del older["agent_file"]
    (unnamed / "checkpoint.json").write_text(json.dumps(older), encoding="utf-8")
    no_entry = cli("export", str(unnamed))
    assert no_entry.returncode == 2 and "run.json" in no_entry.stderr and "--entry" in no_entry.stderr
    for done in (missing, empty, corrupt, no_entry):
        assert "Traceback" not in done.stderr and done.stdout == ""
    named = cli("export", str(unnamed), "--entry", ENTRY)
    assert named.returncode == 0, named.stderr
    assert (unnamed / "agent.json").read_text(encoding="utf-8") == exported.read_text(encoding="utf-8")
