"""Start the llama.cpp stand-in (standin_server.py) as a process of its own, for tests that talk to it."""
from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

from trace_opt.llm import local

REPO = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def running_standin(*flags: str) -> Iterator[str]:
    """The api_base of a stand-in started with `flags`, stopped afterwards."""
    port = local.free_port()
    process = subprocess.Popen([sys.executable, "-m", "tests.llm.standin_server", "--port", str(port), *flags],
                               cwd=REPO)
    api_base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 30
        while not local.serves_model(api_base):
            assert process.poll() is None and time.monotonic() < deadline, "the stand-in did not start"
            time.sleep(0.05)
        yield api_base
    finally:
        process.terminate()
        process.wait(timeout=10)


def standin_state(api_base: str) -> dict:
    """The stand-in's own report: busy, received, finished, dropped."""
    with urllib.request.urlopen(api_base.replace("/v1", "/standin/state"), timeout=5) as response:
        return json.loads(response.read())
