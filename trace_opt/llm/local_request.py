"""One request to the embedded model server, made so that a slow or dead server cannot start a storm.

The server answers one request at a time and, for a plain request, keeps generating after the
client gave up, so a retry would queue behind the very request it replaces. Here a request
1. waits for this process's one slot first (time in our own queue is not the request's time);
2. gets a deadline sized to what it asks for: a first-token allowance for its prompt, then its
   `max_tokens` at half the decode speed measured on earlier replies;
3. is streamed, so that giving up closes the connection and the server, which checks for a gone
   client at every token, stops generating at once;
4. is never retried after a timeout (it fails fast with the reason), and after a server crash is
   re-sent only to a restarted server, a bounded number of times (local.MAX_RESTARTS).
"""
from __future__ import annotations

import logging
import os
import threading
import time
from types import SimpleNamespace
from typing import Any, Dict, List, Optional

from . import local, provider
from .errors import ProviderError
from .retry import describe, status_of

log = logging.getLogger("trace_opt.llm")

FIRST_TOKEN_BASE = 10.0     # seconds before the first token, plus the prompt at PREFILL_FLOOR tokens/s
PREFILL_FLOOR = 100.0       # tokens/s; SmolLM2 reads prompts at 150-1,000 tokens/s on one thread
DECODE_GUESS = 20.0         # tokens/s until a reply is measured (SmolLM2: 45-57 on one thread)
SLACK = 0.5                 # a request may run at half the measured speed before it is given up

_slot = threading.Lock()


def _fresh_slot() -> None:  # a forked child must not inherit a slot its parent's thread held
    global _slot
    _slot = threading.Lock()


os.register_at_fork(after_in_child=_fresh_slot)


class Throughput:
    """The server's decode speed in tokens/s: a moving average over replies long enough to measure."""

    def __init__(self) -> None:
        self.rate: Optional[float] = None

    def record(self, tokens: int, seconds: float) -> None:
        if tokens < 8 or seconds <= 0:
            return
        measured = tokens / seconds
        self.rate = measured if self.rate is None else 0.7 * self.rate + 0.3 * measured

    def current(self) -> float:
        return self.rate or DECODE_GUESS


throughput = Throughput()


def estimate_tokens(messages: List[Dict[str, Any]]) -> int:
    """A generous prompt size: ~3 characters a token plus the chat template's few per message."""
    return sum(len(str(m.get("content") or "")) for m in messages) // 3 + 8 * len(messages)


def deadline(prompt_tokens: int, max_tokens: Optional[int], context: int, rate: float) -> tuple:
    """(seconds to the first token, seconds in all) for a request."""
    first = FIRST_TOKEN_BASE + prompt_tokens / PREFILL_FLOOR
    budget = max_tokens if max_tokens else max(context - prompt_tokens, 16)
    return first, first + budget / (rate * SLACK)


def complete(model: str, messages: List[Dict[str, Any]], api_key: Optional[str], params: Dict[str, Any],
             timeout: Optional[float] = None) -> Any:
    """The reply (shaped like a completion response) to one request; `timeout` (optional) replaces
    the sized deadline. Raises ProviderError on a timeout or a server error, LocalModelCrashed once
    restarts are spent, LocalModelUnavailable when no server can start."""
    with _slot:
        while True:
            api_base = local.ensure_server()
            try:
                reply = _stream(model, messages, api_base, api_key, params, timeout)
            except ProviderError:
                raise
            except Exception as error:
                # A dead server cuts the connection; an HTTP error comes from a live one (no wait then).
                crash = local.server.died(wait=0.0 if status_of(error) is not None else 2.0)
                if crash is None:
                    if describe(error) == "timed out":
                        raise _timed_out(model, f"no token for the read timeout ({error})") from None
                    raise
                log.warning("%s", crash)
                continue  # ensure() starts a new server, or raises once restarts are spent
            local.server.answered()
            return reply


def _stream(model: str, messages: List[Dict[str, Any]], api_base: str, api_key: Optional[str],
            params: Dict[str, Any], timeout: Optional[float]) -> Any:
    prompt_tokens = estimate_tokens(messages)
    rate = throughput.current()
    first, total = deadline(prompt_tokens, params.get("max_tokens"), local.context_size(), rate)
    if timeout is not None:
        first, total = min(first, timeout), timeout
    pieces: List[str] = []
    finish, tokens, started, first_at = None, 0, time.monotonic(), None
    replies = provider.stream(model, messages, api_base, api_key, dict(params, timeout=first))
    try:
        for piece, reason in replies:
            now = time.monotonic()
            if piece:
                pieces.append(piece)
                tokens += 1
                first_at = first_at or now
            finish = reason or finish
            if now - started > total:
                raise _timed_out(model, f"no complete reply within {total:.0f} s (sized for "
                                        f"{params.get('max_tokens') or 'the rest of the context'} tokens at "
                                        f"{rate:.0f} tokens/s, half the measured speed)")
    finally:
        replies.close()  # the server stops generating when the connection closes
    if finish is None or (not pieces and local.server.died(wait=0.5) is not None):
        # llama.cpp ends every stream with a finish reason: without one, the connection was cut
        raise ConnectionError("the reply stream ended without a finish reason (the connection was cut)")
    if first_at is not None:
        throughput.record(tokens - 1, time.monotonic() - first_at)
    message = SimpleNamespace(content="".join(pieces), role="assistant")
    # llama.cpp's stream carries no usage: the pieces are its tokens, the prompt is counted here.
    usage = SimpleNamespace(prompt_tokens=provider.estimate_prompt_tokens(model, messages), completion_tokens=tokens)
    return SimpleNamespace(choices=[SimpleNamespace(message=message, finish_reason=finish)], usage=usage)


def _timed_out(model: str, why: str) -> ProviderError:
    return ProviderError(model, None, f"{why}; the request was stopped on the server and is not retried "
                                      f"(a retry would queue behind it)", kind="timed out")
