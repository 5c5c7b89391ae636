"""The response cache: keys, storage, sharing, and when the client uses it."""
import sqlite3
import subprocess
import sys
import threading

import pytest

from trace_opt.llm import LLM, ResponseCache
from trace_opt.llm.cache import cache_dir, cache_key, default_cache

from .conftest import FAKE_KEY
from .scripted_provider import Reply

MESSAGES = [{"role": "user", "content": "hi"}]
PARAMS = {"temperature": 0.0, "seed": 1, "response_format": {"type": "json_object"}, "max_tokens": 50}


def key(**changes):
    fields = {"model": "openai/m", "api_base": "http://h/v1", "messages": MESSAGES, "params": dict(PARAMS)}
    params = changes.pop("params", {})
    fields.update(changes)
    fields["params"].update(params)
    return cache_key(fields["model"], fields["api_base"], fields["messages"], fields["params"])


def test_key_is_stable_and_covers_the_whole_request():
    assert key() == key()
    assert len(key()) == 64
    different = [key(model="openai/other"), key(api_base="http://other/v1"),
                 key(messages=[{"role": "user", "content": "hi!"}]),
                 key(params={"temperature": 0.5}), key(params={"seed": 2}),
                 key(params={"response_format": {"type": "json_object", "schema": {}}}),
                 key(params={"max_tokens": 51}), key(params={"stop": ["\n"]})]
    assert len(set(different + [key()])) == len(different) + 1


def test_key_ignores_secrets_and_transport():
    assert key(params={"api_key": FAKE_KEY}) == key()
    assert key(params={"timeout": 3, "num_retries": 2, "extra_headers": {"Authorization": FAKE_KEY}}) == key()
    assert key(params={"aws_secret_access_key": "x", "vertex_credentials": "y"}) == key()


def test_key_order_independent():
    assert cache_key("m", None, MESSAGES, {"a": 1, "b": 2}) == cache_key("m", None, MESSAGES, {"b": 2, "a": 1})


def test_store_and_read_back(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite3")
    assert cache.get("k") is None
    cache.put("k", "openai/m", "reply", 3, 4)
    assert cache.get("k") == {"reply": "reply", "prompt_tokens": 3, "completion_tokens": 4}
    assert len(ResponseCache(tmp_path / "c.sqlite3")) == 1  # on disk, seen by a new object
    cache.clear()
    assert len(cache) == 0


def test_location_from_env(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACE_OPT_CACHE_DIR", str(tmp_path / "here"))
    assert cache_dir() == tmp_path / "here"
    assert default_cache().path == tmp_path / "here" / "responses.sqlite3"
    monkeypatch.delenv("TRACE_OPT_CACHE_DIR")
    assert cache_dir().parts[-2:] == (".cache", "trace_opt")


def test_unwritable_cache_is_a_miss_not_a_failure(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    cache = ResponseCache(blocker / "c.sqlite3")
    assert cache.get("k") is None
    cache.put("k", "m", "r")
    assert "response cache" in caplog.text


def test_threads_share_one_file(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite3")

    def write(worker):
        for i in range(20):
            cache.put(f"{worker}-{i}", "m", f"reply {worker} {i}")
            assert cache.get(f"{worker}-{i}")["reply"] == f"reply {worker} {i}"

    threads = [threading.Thread(target=write, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cache) == 120


_WRITER = """
import sys
from trace_opt.llm.cache import ResponseCache
cache = ResponseCache(sys.argv[1])
for i in range(20):
    cache.put(f"p{sys.argv[2]}-{i}", "m", "r")
"""


def test_processes_share_one_file(tmp_path):
    path = tmp_path / "c.sqlite3"
    ResponseCache(path).put("first", "m", "r")
    workers = [subprocess.Popen([sys.executable, "-c", _WRITER, str(path), str(w)]) for w in range(2)]
    assert [w.wait(60) for w in workers] == [0, 0]
    assert len(ResponseCache(path)) == 41
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_on_by_default_at_temperature_zero(make_llm, provider):
    provider.script(Reply("first"), Reply("second"))
    llm = make_llm(cache=None)
    assert llm("hi") == "first" and llm("hi") == "first"
    assert len(provider.requests) == 1
    assert llm.usage.calls == 1 and llm.usage.cache_hits == 1
    assert make_llm(cache=None)("hi") == "first"  # a new object reads the same file


def test_off_by_default_when_sampling(make_llm, provider):
    provider.script(Reply("a"), Reply("b"), Reply("c"), Reply("d"))
    llm = make_llm(cache=None, temperature=0.7)
    assert [llm("hi"), llm("hi")] == ["a", "b"]
    assert make_llm(cache=None)("hi", temperature=0.9) == "c"  # per-call temperature decides too
    forced = make_llm(cache=True, temperature=0.7)
    assert forced("hi") == "d" and forced("hi") == "d"


def test_samples_inside_a_named_rollout_are_kept_under_its_id(make_llm, provider):
    from trace_opt.llm import rollout_scope

    provider.script(Reply("a"), Reply("b"), Reply("c"), Reply("d"))
    llm = make_llm(cache=None, temperature=0.7)
    with rollout_scope("r1"):
        first = [llm("hi"), llm("hi")]           # two identical samples in one rollout: two draws
    with rollout_scope("r1"):
        again = [llm("hi"), llm("hi")]           # the rollout run again (a resume, a replay): the same draws
    with rollout_scope("r2"):
        other = llm("hi")                        # another rollout draws its own
    assert first == ["a", "b"] and again == first and other == "c"
    assert len(provider.requests) == 3 and llm.usage.cache_hits == 2
    assert llm("hi") == "d"                      # outside a rollout a sample is not cached


def test_disabled(make_llm, provider):
    provider.script(Reply("a"), Reply("b"))
    llm = make_llm(cache=False)
    assert [llm("hi"), llm("hi")] == ["a", "b"]


def test_cache_argument_as_directory_or_object(make_llm, provider, tmp_path):
    provider.script(Reply("a"))
    llm = make_llm(cache=tmp_path / "mine")
    llm("hi")
    assert len(ResponseCache(tmp_path / "mine" / "responses.sqlite3")) == 1
    own = ResponseCache(tmp_path / "own.sqlite3")
    own.put(cache_key("openai/scripted", provider.api_base, [{"role": "user", "content": "x"}],
                      {"temperature": 0.0}), "openai/scripted", "from the cache")
    assert make_llm(cache=own)("x") == "from the cache"


def test_seed_and_response_format_are_part_of_the_key(make_llm, provider):
    provider.script(Reply("a"), Reply("b"), Reply('{"x": 1}'))
    llm = make_llm(cache=True)
    assert llm("hi", seed=1) == "a" and llm("hi", seed=2) == "b" and llm("hi", seed=1) == "a"
    assert llm("hi", response_format={"type": "json_object"}) == '{"x": 1}'


def test_empty_replies_are_not_cached(make_llm, provider):
    provider.script(Reply(""), Reply("now"))
    llm = make_llm(cache=True)
    assert llm("hi") == "" and llm("hi") == "now"


def test_the_key_never_reaches_the_file(make_llm, provider, tmp_path):
    provider.script(Reply("stored"))
    make_llm(cache=tmp_path / "scan")("hi")
    for file in (tmp_path / "scan").iterdir():
        assert FAKE_KEY.encode() not in file.read_bytes()


def test_cache_hits_do_not_start_the_local_server(monkeypatch):
    from trace_opt.llm import local

    llm = LLM()
    assert llm.local
    request = llm._request([{"role": "user", "content": "hi"}], {}, None)
    default_cache().put(request.key, llm.model, "cached reply")
    monkeypatch.setattr(local, "ensure_server", lambda: pytest.fail("server started for a cache hit"))
    assert llm("hi") == "cached reply"
