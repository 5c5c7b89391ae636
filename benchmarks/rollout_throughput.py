"""Rollout throughput: 64 rollouts, each one LLM call to a local server that answers after 200 ms.

Each rollout is one call through ``trace_opt.LLM`` (litellm, no response cache) to an
OpenAI-compatible server started here on 127.0.0.1 (stdlib ThreadingHTTPServer, replying
after a 200 ms sleep). Wall time per executor and concurrency is compared with the ideal,
64 x 0.2 s / concurrency: what is left over is the executor's and the LLM client's overhead.
Threads call ``llm(...)``, asyncio awaits ``llm.acall(...)``, Ray (when installed) runs the
threads' rollout in worker processes, each with its own client; each executor is warmed up
first (one call per worker: connections, Ray's worker processes, imports) and the best of
``--repeats`` runs is kept (the machine may be busy). ``--workload http`` makes each rollout
one bare stdlib request instead, which leaves the executors' own overhead alone in the table.

    .venv/bin/python benchmarks/rollout_throughput.py [--repeats 2] [--no-ray] [--workload http]

Target (issue 5): within 1.3x of ideal for threads and asyncio at concurrency 16.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no price-map download at import

from tests.llm.scripted_provider import completion_body  # noqa: E402
from trace_opt.exec import AsyncExecutor, Executor, RayExecutor, RolloutError, ThreadExecutor  # noqa: E402
from trace_opt.llm import LLM  # noqa: E402

ROLLOUTS = 64
LATENCY = 0.2
TARGET = 1.3


class SlowServer(ThreadingHTTPServer):
    """An OpenAI-compatible chat endpoint that answers every request after LATENCY seconds."""

    daemon_threads = True
    request_queue_size = 256  # the default (5) would make concurrent connects wait on SYN retries

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SlowHandler)
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _SlowHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
    disable_nagle_algorithm = True  # else headers and body, written apart, meet the client's delayed ACK (+40 ms)

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        time.sleep(LATENCY)
        body = json.dumps(completion_body("ok")).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def client(api_base: str) -> LLM:
    return LLM(model="openai/bench", api_base=api_base, api_key="sk-local", cache=False, max_retries=0)


_clients: Dict[str, LLM] = {}  # one per process and server (a client holds locks: it does not pickle)


class SyncRollout:
    """One call per rollout. A module-level class: Ray ships it by name, not with its globals."""

    def __init__(self, api_base: str) -> None:
        self.api_base = api_base

    def __call__(self, i: int) -> str:
        llm = _clients.get(self.api_base) or _clients.setdefault(self.api_base, client(self.api_base))
        return llm(f"rollout {i}")


class HttpRollout:
    """``--workload http``: one bare stdlib HTTP request, to see the executors' own overhead."""

    def __init__(self, api_base: str) -> None:
        self.url = api_base + "/chat/completions"

    def __call__(self, i: int) -> str:
        body = json.dumps({"model": "bench", "messages": [{"role": "user", "content": f"rollout {i}"}]}).encode()
        request = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as reply:
            return json.load(reply)["choices"][0]["message"]["content"]


def async_rollout(api_base: str) -> Callable[[int], Any]:
    llm = client(api_base)

    async def rollout(i: int) -> str:
        return await llm.acall(f"rollout {i}")
    return rollout


def timed(executor: Executor, fn: Callable[[int], Any], warm_up: int, repeats: int) -> float:
    executor.map(fn, [-1 - i for i in range(warm_up)])
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        results = executor.map(fn, range(ROLLOUTS))
        best = min(best, time.perf_counter() - started)
        failed = [r for r in results if isinstance(r, RolloutError)]
        if failed:
            raise SystemExit(f"{len(failed)} rollouts failed, first: {failed[0]}")
    return best


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--no-ray", action="store_true", help="skip Ray even when it is installed")
    parser.add_argument("--workload", choices=("llm", "http"), default="llm",
                        help="llm: through trace_opt.LLM (default); http: a bare request (asyncio runs it on threads)")
    args = parser.parse_args(argv)
    with_ray = not args.no_ray and importlib.util.find_spec("ray") is not None

    # Ray pickles functions of __main__ by value (with their globals); imported from this module
    # by name instead, a worker process imports it and keeps one client per process.
    import rollout_throughput as workload

    server = SlowServer()
    call = "one LLM call" if args.workload == "llm" else "one bare HTTP request"
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; {ROLLOUTS} rollouts, {call} each, "
          f"server latency {LATENCY * 1000:.0f} ms; best of {args.repeats}")
    print()
    print(f"{'executor':>8}  {'concurrency':>11}  {'wall s':>7}  {'ideal s':>7}  {'x ideal':>7}  target")
    print(f"{'-' * 8}  {'-' * 11}  {'-' * 7}  {'-' * 7}  {'-' * 7}  ------")
    for concurrency in (1, 4, 16):
        sync = workload.SyncRollout if args.workload == "llm" else workload.HttpRollout
        runs = [("threads", lambda: ThreadExecutor(concurrency), sync),
                ("asyncio", lambda: AsyncExecutor(concurrency), workload.async_rollout if args.workload == "llm" else sync)]
        if with_ray:
            # One CPU each: Ray schedules by CPUs, so a cluster of `concurrency` CPUs runs that many at once.
            runs.append(("ray", lambda: RayExecutor(num_cpus=concurrency, log_to_driver=False), sync))
        for name, make, rollout in runs:
            with make() as executor:
                wall = timed(executor, rollout(server.api_base), concurrency, args.repeats)
            ideal = ROLLOUTS * LATENCY / concurrency
            ratio = wall / ideal
            target = "" if concurrency != 16 or name == "ray" else ("met" if ratio <= TARGET else "MISSED")
            print(f"{name:>8}  {concurrency:>11}  {wall:>7.2f}  {ideal:>7.2f}  {ratio:>6.2f}x  {target}", flush=True)
    if not with_ray:
        print("\n(ray: not installed or --no-ray; pip install 'trace-opt-framework[ray]')")
    server.shutdown()


if __name__ == "__main__":
    main()
