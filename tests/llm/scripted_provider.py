"""A scripted (fake) OpenAI-compatible provider on 127.0.0.1 for fault tests.

It is NOT a recording of a real model: each POST to `/v1/chat/completions` takes the
next scripted step from a queue (a reply, an HTTP error, a hang, a cut connection,
a raw body) and records the request, so tests can assert what the client sent and
how it behaved. `GET /v1/models` answers like llama.cpp's server does. Run as a
module (`python -m tests.llm.scripted_provider --port P`) it serves replies that
echo the last user message, standing in for the local model server in tests.
"""
from __future__ import annotations

import argparse
import json
import queue
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """A normal 200 chat completion whose message content is `text`."""

    text: str | None
    prompt_tokens: int = 11
    completion_tokens: int = 7


@dataclass
class Status:
    """An HTTP error status with an OpenAI-style error body and optional headers."""

    code: int
    message: str = "scripted error"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Hang:
    """Wait `seconds` (or until the server stops) before answering with `then`."""

    seconds: float
    then: Any = None


@dataclass
class CutBody:
    """Send headers promising a long body, part of it, then close the connection."""


@dataclass
class Raw:
    """A 200 whose body is `body` as given (e.g. truncated JSON)."""

    body: bytes
    content_type: str = "application/json"


def completion_body(text: str | None, prompt_tokens: int = 11, completion_tokens: int = 7) -> dict:
    """The JSON body of a chat completion, as an OpenAI-compatible server sends it."""
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "scripted",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }


class ScriptedProvider:
    """Serve scripted steps on a free loopback port; use as a context manager."""

    def __init__(self, port: int = 0, echo_when_empty: bool = False, count_words: bool = False):
        self.steps: queue.Queue = queue.Queue()
        self.requests: list[dict] = []
        self.echo_when_empty = echo_when_empty
        self.count_words = count_words  # echo replies report a token per word, not a fixed 11 + 7
        self.stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *steps: Any) -> "ScriptedProvider":
        for step in steps:
            self.steps.put(step)
        return self

    def start(self) -> "ScriptedProvider":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "ScriptedProvider":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def next_step(self, body: dict) -> Any:
        try:
            return self.steps.get_nowait()
        except queue.Empty:
            if self.echo_when_empty:
                last = [m for m in body.get("messages", []) if m.get("role") == "user"]
                reply = f"echo: {last[-1]['content'] if last else ''}"
                if not self.count_words:
                    return Reply(reply)
                words = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
                return Reply(reply, prompt_tokens=words, completion_tokens=len(reply.split()))
            return Status(500, "scripted provider: script exhausted")


def _handler_for(provider: ScriptedProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

        def do_GET(self) -> None:
            if self.path.rstrip("/").endswith("/models"):
                self._send_json(200, {"object": "list", "data": [{"id": "smollm2", "object": "model"}]})
            else:
                self._send_json(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            body = json.loads(raw or b"{}")
            provider.requests.append({"path": self.path, "headers": dict(self.headers), "body": body, "raw": raw,
                                      "time": time.monotonic()})
            try:
                self._play(provider.next_step(body))
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout): fine
                self.close_connection = True

        def _play(self, step: Any) -> None:
            if isinstance(step, Hang):
                provider.stopping.wait(step.seconds)
                step = step.then if step.then is not None else Reply("late reply")
            if isinstance(step, Reply):
                self._send_json(200, completion_body(step.text, step.prompt_tokens, step.completion_tokens))
            elif isinstance(step, Status):
                error = {"error": {"message": step.message, "type": "scripted", "code": step.code}}
                self._send_json(step.code, error, step.headers)
            elif isinstance(step, Raw):
                self._send_bytes(200, step.body, step.content_type)
            elif isinstance(step, CutBody):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "4000")
                self.end_headers()
                self.wfile.write(b'{"id": "chatcmpl-scripted", "choices": [{"mess')
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
            else:
                raise TypeError(f"unknown scripted step {step!r}")

        def _send_json(self, code: int, payload: dict, headers: dict[str, str] | None = None) -> None:
            self._send_bytes(code, json.dumps(payload).encode(), "application/json", headers)

        def _send_bytes(self, code: int, data: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler


def main() -> None:
    """Serve echo replies until killed: a stand-in for the local model server."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before listening")
    args = parser.parse_args()
    time.sleep(args.delay)
    provider = ScriptedProvider(port=args.port, echo_when_empty=True)
    provider._server.serve_forever()


if __name__ == "__main__":
    main()
