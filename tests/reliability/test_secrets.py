"""A planted API key never leaves the process's memory: not into the run directory (checkpoint,
events, graph, response cache, HTML report), not into logs (DEBUG, every logger), not onto
stdout / stderr, not into the text of the errors a run raises or records.

The key reaches the client three ways (the LLM's ``api_key``, ``OPENAI_API_KEY`` that litellm
reads itself, ``TRACE_OPT_API_KEY``), and once not shaped like an OpenAI key (only its place in
the environment tells it is one); the provider is a scripted fake OpenAI-compatible server
on 127.0.0.1 (not a recording) whose error bodies quote the key back, as some proxies do. A
short OptoPrime training then meets a good reply, a 401 and a 503 that outlives the retries.
(cassettes/ are scanned for key-shaped strings by tests/test_cassettes.py.)
"""
import json
import logging
import secrets
import traceback

import pytest

import trace_opt as to
from trace_opt.llm import LLM, ProviderError, retry
from trace_opt.report import write_report
from trace_opt.train import Trainer

from ..llm.scripted_provider import Reply, ScriptedProvider, Status

PREFIX = "sk-test-PLANTED-"
ODD_PREFIX = "test-PLANTED-"  # no "sk-": redaction by shape cannot catch it


class Greeter(to.Module):
    def __init__(self):
        super().__init__()
        self.greeting = to.Parameter("Hello", description="the word a reply starts with")

    def forward(self, name):
        return greet(self.greeting, name)


@to.bundle()
def greet(greeting, name):
    """Greet the person by name."""
    return f"{greeting}, {name}!"


TRAIN = [("Ada", "Welcome, Ada!"), ("Bob", "Welcome, Bob!"), ("Cy", "Welcome, Cy!"), ("Di", "Welcome, Di!")]


def guide(output, target):
    return to.Feedback(text="right" if output == target else f"expected {target!r}", score=float(output == target))


def suggestion(value):
    return Reply(json.dumps({"reasoning": "the targets start with Welcome", "suggestion": {"greeting": value}}))


def fragments(key, prefix):
    """What must not appear: the key, its fixed prefix minus 'sk-', and any 8 characters of its random part."""
    random_part = key[len(prefix):]
    return [key, ODD_PREFIX] + [random_part[i:i + 8] for i in range(len(random_part) - 7)]


def chain(error):
    """The exception and those a traceback of it shows (its cause, or its context unless suppressed)."""
    while error is not None:
        yield error
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(retry.settings, "initial", 0.001)
    monkeypatch.setattr(retry.settings, "maximum", 0.01)
    for name in ("TRACE_OPT_MODEL", "TRACE_OPT_API_BASE", "TRACE_OPT_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def make_llm(how, key, provider, cache_dir, monkeypatch):
    options = {"cache": str(cache_dir), "max_retries": 1, "timeout": 5.0}
    if how == "argument":
        return LLM("openai/scripted", api_base=provider.api_base, api_key=key, **options)
    if how.startswith("OPENAI_API_KEY"):  # litellm reads it; the LLM object never holds the key
        monkeypatch.setenv("OPENAI_API_KEY", key)
        return LLM("openai/scripted", api_base=provider.api_base, **options)
    monkeypatch.setenv("TRACE_OPT_MODEL", "openai/scripted")
    monkeypatch.setenv("TRACE_OPT_API_BASE", provider.api_base)
    monkeypatch.setenv("TRACE_OPT_API_KEY", key)
    return LLM(**options)


@pytest.mark.parametrize("how, prefix", [("argument", PREFIX), ("OPENAI_API_KEY", PREFIX),
                                         ("TRACE_OPT_API_KEY", PREFIX), ("OPENAI_API_KEY, odd shape", ODD_PREFIX)])
def test_a_planted_key_leaks_nowhere(how, prefix, tmp_path, monkeypatch, caplog, capfd):
    key = prefix + secrets.token_hex(16)
    caplog.set_level(logging.DEBUG)  # every logger, litellm's included
    run_dir = tmp_path / "run"
    with ScriptedProvider() as provider:
        llm = make_llm(how, key, provider, tmp_path / "cache", monkeypatch)
        agent = Greeter()
        opt = to.optim.OptoPrime(agent.parameters(), llm=llm)
        provider.script(suggestion("Hi"),                                        # step 1: a usable reply
                        Status(401, f"Incorrect API key provided: {key}"),      # step 2: not retried
                        *[Status(503, f"overloaded (key {key})")] * 2,          # step 3: retried, then given up
                        suggestion("Welcome"))                                  # step 4
        trainer = Trainer(agent, opt, TRAIN, guide=guide, batch_size=1, checkpoint_dir=run_dir, progress=False)
        result = trainer.fit()
        errors = []
        provider.script(Status(401, f"Incorrect API key provided: {key}"))
        with pytest.raises(ProviderError) as caught:  # the same failure, raised to the caller
            llm("hello")
        errors.append(caught.value)
    write_report(run_dir)

    # the key was really sent, and the faults really happened
    sent = {v for r in provider.requests for k, v in r["headers"].items() if k.lower() == "authorization"}
    assert sent == {f"Bearer {key}"}
    assert result.reason == "done" and result.steps == 4 and agent.greeting.data == "Welcome"
    reasons = [e.get("reason") or "" for e in map(json.loads, (run_dir / "events.jsonl").read_text().splitlines())]
    assert any("unauthorized (HTTP 401)" in r for r in reasons) and any("HTTP 503" in r for r in reasons)
    assert "Incorrect API key provided: ***" in caplog.text  # the provider's words survive, the key does not

    out, err = capfd.readouterr()
    places = {"log": caplog.text, "stdout": out, "stderr": err}
    places.update({f"log record {r.name}:{r.lineno} args": repr(r.args) for r in caplog.records})
    for error in errors:
        places["traceback"] = "".join(traceback.format_exception(error))
        places.update({f"{type(e).__name__} str/repr/args": f"{e}\n{e!r}\n{e.args!r}" for e in chain(error)})
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert {"checkpoint.json", "events.jsonl", "graph.json", "report.html", "responses.sqlite3"} <= \
        {p.name for p in files}
    places.update({str(p.relative_to(tmp_path)): p.read_bytes().decode("utf-8", "replace") for p in files})
    leaks = [f"{where} holds {piece!r}" for where, text in places.items() for piece in fragments(key, prefix)
             if piece in text]
    assert not leaks, "\n".join(leaks)
