"""ScriptedLLM: a fake LLM for your own tests, answering from a script you write, never a model.

It stands where a `to.LLM` stands (text calls, structured calls, sync and async, usage counted in
open accounting scopes) so a workflow or an optimizer can be tested offline and exactly. Each
call takes the next scripted reply: a str (the text a model would send: structured calls parse
it as a real reply is parsed), a dict (already the structured answer), an exception (raised), or
a callable ``(messages) -> reply`` that stays in the script and answers every call from then on.
`ScriptedLLM.suggestion({...})` writes an LLM optimizer's answer without reading its schema.
"""
from __future__ import annotations

import threading
from typing import Any, Dict, Iterable, List, Type, TypeVar

from pydantic import BaseModel

from . import accounts, health
from .client import Prompt, to_messages
from .errors import LLMError, ReplyError
from .structured import UnusableReply, parse_reply
from .usage import Usage, UsageMeter

M = TypeVar("M", bound=BaseModel)


class ScriptExhausted(LLMError):
    """A ScriptedLLM was called more often than its script has replies (a test's own mistake)."""

    stops_run = True  # no reply at all is not feedback on the workflow: let it reach the test


class ScriptedLLM:
    """``ScriptedLLM(["first reply", {"reasoning": ..., "suggestion": {...}}, lambda messages: "..."])``.

    ``calls`` holds the messages of every call, in order, for the test to inspect."""

    constrains_json_schema = False

    def __init__(self, replies: Iterable[Any] = (), *, model: str = "scripted", context_window: int = 8192) -> None:
        self.replies: List[Any] = list(replies)
        self.model = model
        self.context_window = context_window
        self.calls: List[List[Dict[str, Any]]] = []
        self._meter = UsageMeter()
        self._lock = threading.Lock()

    @staticmethod
    def suggestion(values: Dict[str, Any], reasoning: str = "scripted") -> Dict[str, Any]:
        """The answer an LLM optimizer (OptoPrime, OPRO, ...) expects: new values by variable name
        (the parameter's name, as its prompt shows it)."""
        if not isinstance(values, dict):
            raise TypeError(f"suggestion() takes a dict of variable name -> value, got {type(values).__name__}")
        return {"reasoning": reasoning, "suggestion": dict(values)}

    @property
    def usage(self) -> Usage:
        return self._meter.snapshot()

    def script(self, *replies: Any) -> "ScriptedLLM":
        """Queue more replies."""
        with self._lock:
            self.replies.extend(replies)
        return self

    # -- the LLM surface -------------------------------------------------------------------
    def __call__(self, prompt: Prompt, **options: Any) -> str:
        reply = self._next(to_messages(prompt))
        return reply if isinstance(reply, str) else _as_text(reply)

    async def acall(self, prompt: Prompt, **options: Any) -> str:
        return self(prompt, **options)

    def structured(self, messages: Prompt, schema: Type[M], **options: Any) -> M:
        reply = self._next(to_messages(messages))
        if isinstance(reply, schema):
            return reply
        try:
            if isinstance(reply, str):
                return parse_reply(reply, schema)
            return schema.model_validate(reply)
        except (UnusableReply, ValueError) as exc:
            raise ReplyError(self.model, str(exc), reply if isinstance(reply, str) else repr(reply), 1) from None

    async def astructured(self, messages: Prompt, schema: Type[M], **options: Any) -> M:
        return self.structured(messages, schema, **options)

    def _next(self, messages: List[Dict[str, Any]]) -> Any:
        with self._lock:
            self.calls.append(messages)
            if not self.replies:
                raise ScriptExhausted(f"ScriptedLLM has no reply left for call {len(self.calls)} "
                                      "(script more replies, or a callable that answers every call)")
            reply = self.replies[0]
            if not callable(reply) or isinstance(reply, BaseException):
                self.replies.pop(0)
        if isinstance(reply, BaseException):
            raise reply
        if callable(reply) and not isinstance(reply, type):
            reply = reply(messages)
        words = sum(len(str(m.get("content", "")).split()) for m in messages)
        accounts.count(self._meter, calls=1, prompt_tokens=words, completion_tokens=len(_as_text(reply).split()))
        health.record_answer()
        return reply

    def __deepcopy__(self, memo: dict) -> "ScriptedLLM":
        """A client is shared, not copied: a copy of an agent (``to.compile``'s) spends through the
        same meter, cache and budget as the original."""
        return self

    def __repr__(self) -> str:
        return f"ScriptedLLM({len(self.replies)} replies left, {len(self.calls)} calls so far)"


def _as_text(reply: Any) -> str:
    if isinstance(reply, str):
        return reply
    if isinstance(reply, BaseModel):
        return reply.model_dump_json()
    import json

    return json.dumps(reply, default=str)


__all__ = ["ScriptedLLM", "ScriptExhausted"]
