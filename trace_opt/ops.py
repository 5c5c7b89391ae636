"""Traced operators that need the LLM layer.

``llm_call`` asks a language model inside a traced workflow: the system prompt, the user
message and the sampling temperature are its inputs in the graph (so feedback reaches a
prompt or a temperature Parameter), the reply text its output. The LLM object itself is
not a node: it is how the operation runs, not a value that flows.
"""
from __future__ import annotations

from typing import Any, Optional

from .graph import Node, Operator
from .graph.nodes import apply

LLM_CALL_DOC = ("[llm_call] Ask a language model: `system` is the system prompt, `user` the user message, "
                "`temperature` the sampling temperature; returns the model's reply text.")


def llm_call(system: Any, user: Any, *, temperature: Any = None, llm: Any = None, **options: Any) -> Node:
    """Traced chat call; ``llm`` defaults to ``to.LLM()`` (the configured or embedded model)."""
    if llm is None:
        from .llm import LLM

        llm = _default_llm(LLM)

    def ask(system: Any, user: Any, temperature: Optional[float] = None) -> str:
        if not isinstance(system, str) or not isinstance(user, str):
            raise TypeError(f"llm_call needs text: system is {type(system).__name__}, user is {type(user).__name__}")
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        extra = dict(options)
        if temperature is not None:
            extra["temperature"] = float(temperature)
        return llm(messages, **extra)

    args = (system, user) if temperature is None else (system, user, temperature)
    return apply(Operator("llm_call", ask, LLM_CALL_DOC, ("system", "user", "temperature")), args)


_shared = {}


def _default_llm(factory: Any) -> Any:
    """One default LLM per process, so its usage and cache are shared by every call."""
    if "llm" not in _shared:
        _shared["llm"] = factory()
    return _shared["llm"]
