"""A stand-in for llama.cpp's server (NOT a model, NOT a recording), run as a process in tests.

Like the real one it has one slot (requests wait their turn), streams a reply token by token,
and stops generating when the client goes away; like a broken build it can kill itself with a
signal when a request arrives. Its replies echo the last user message ("echo: ..."), padded
to `max_tokens` with "tick" tokens when asked to be slow. `GET /standin/state` (a stand-in-only
endpoint) says whether it is generating and how many requests it got, finished and dropped.

    python -m tests.llm.standin_server --port P [--token-delay S] [--pad] [--crash SIGSEGV]
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, List


class State:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.slot = threading.Lock()
        self.busy = False
        self.received = self.finished = self.dropped = 0


def _tokens(body: dict, pad: bool) -> List[str]:
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    text = f"echo: {users[-1]['content'] if users else ''}"
    tokens = [piece + " " for piece in text.split(" ")]
    tokens[-1] = tokens[-1].rstrip(" ")
    limit = body.get("max_tokens") or 10_000
    if pad:
        tokens += [" tick"] * max(0, limit - len(tokens))
    return tokens[:limit]


def _chunk(content: Any, finish: Any = None) -> bytes:
    delta = {} if content is None else {"content": content}
    body = {"id": "chatcmpl-standin", "object": "chat.completion.chunk", "created": 1700000000, "model": "standin",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(body)}\n\n".encode()


def handler_for(state: State) -> type:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"   # the body ends when the connection closes

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            if self.path.rstrip("/").endswith("/models"):
                self._json({"object": "list", "data": [{"id": state.args.alias, "object": "model"}]})
            elif self.path == "/standin/state":
                self._json({"busy": state.busy, "received": state.received, "finished": state.finished,
                            "dropped": state.dropped})
            else:
                self.send_error(404)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            state.received += 1
            if state.args.crash:
                print("ggml_backend_cpu: stand-in about to crash on a request", file=sys.stderr, flush=True)
                signal.pthread_kill(threading.get_ident(), signal.Signals[state.args.crash])
                time.sleep(60)  # never answer, whichever thread the fault handler runs in
            with state.slot:               # one request at a time, as llama.cpp's server
                state.busy = True
                try:
                    self._generate(body)
                finally:
                    state.busy = False

        def _generate(self, body: dict) -> None:
            tokens = _tokens(body, state.args.pad)
            if not body.get("stream"):
                time.sleep(state.args.token_delay * len(tokens))
                text = "".join(tokens)
                self._json({"id": "chatcmpl-standin", "object": "chat.completion", "created": 1700000000,
                            "model": "standin", "choices": [{"index": 0, "finish_reason": "stop",
                                                              "message": {"role": "assistant", "content": text}}],
                            "usage": {"prompt_tokens": 5, "completion_tokens": len(tokens), "total_tokens": 5 + len(tokens)}})
                state.finished += 1
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            try:
                self.wfile.write(_chunk(None))
                for token in tokens:
                    time.sleep(state.args.token_delay)
                    self.wfile.write(_chunk(token))
                    self.wfile.flush()
                self.wfile.write(_chunk(None, "length" if state.args.pad else "stop") + b"data: [DONE]\n\n")
                self.wfile.flush()
                state.finished += 1
            except (BrokenPipeError, ConnectionResetError):   # the client went away: stop generating
                state.dropped += 1

        def _json(self, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--alias", default="smollm2")
    parser.add_argument("--token-delay", type=float, default=0.0, help="seconds per streamed token")
    parser.add_argument("--pad", action="store_true", help="generate up to max_tokens (a slow, long reply)")
    parser.add_argument("--crash", choices=["SIGSEGV", "SIGILL", "SIGABRT"], help="die with it on a request")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before listening")
    args, _ = parser.parse_known_args()   # llama.cpp's own flags, if passed, are ignored
    time.sleep(args.delay)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler_for(State(args)))
    server.daemon_threads = True
    server.serve_forever(poll_interval=0.05)


if __name__ == "__main__":
    main()
