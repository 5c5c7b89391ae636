"""Trace's LLM classes over trace_opt's one client: ``LLM()`` (the embedded model unless a model
is named), called Trace's way (``llm(messages=[...])`` answers like an OpenAI response), and
``DummyLLM(fn)`` for tests, where ``fn(messages)`` writes every reply (trace_opt's ScriptedLLM)."""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Callable, List, Optional


class LLM:
    """A trace_opt LLM (or ScriptedLLM) that also answers Trace's call shape. Optimizers given one
    use the trace_opt client inside (structured replies, retries, budget, cache)."""

    def __init__(self, model: Optional[str] = None, *args: Any, client: Any = None, **options: Any) -> None:
        if client is None:
            from ....llm import LLM as Client

            allowed = {k: v for k, v in options.items() if k in ("api_base", "api_key", "temperature", "budget", "cache")}
            client = Client(model, **allowed)
        self.client = client

    def __call__(self, *args: Any, messages: Optional[List[dict]] = None, **options: Any) -> Any:
        prompt = messages if messages is not None else (args[0] if args else None)
        if prompt is None:
            raise TypeError("LLM() needs messages (a list of {'role', 'content'} dicts) or a prompt")
        options = {k: v for k, v in options.items() if k in ("temperature", "max_tokens", "seed")}
        text = self.client(prompt, **options)
        message = SimpleNamespace(content=text, role="assistant")
        return SimpleNamespace(choices=[SimpleNamespace(message=message, finish_reason="stop", index=0)])

    create = __call__

    def __getattr__(self, name: str) -> Any:  # structured, usage, context_window, model: the client's
        if name.startswith("__") or name == "client":
            raise AttributeError(name)
        return getattr(self.client, name)


class DummyLLM(LLM):
    """``DummyLLM(lambda messages: '...')``: every reply written by your function, no model."""

    def __init__(self, callable: Callable[[List[dict]], Any], *args: Any, **kwargs: Any) -> None:  # noqa: A002
        from ....llm.scripted import ScriptedLLM

        super().__init__(client=ScriptedLLM([callable]))


AutoGenLLM = LiteLLM = LLM

__all__ = ["AutoGenLLM", "DummyLLM", "LLM", "LiteLLM"]
