"""Traced operators that need the LLM layer.

``llm_call`` asks a language model inside a traced workflow: the system prompt, the user
message and the sampling temperature are its inputs in the graph (so feedback reaches a
prompt or a temperature Parameter), the reply text its output. The LLM object itself is
not a node: it is how the operation runs, not a value that flows.
"""
from __future__ import annotations

from typing import Any, Optional

from .graph import Node, Operator
from .graph.kinds import MAX_DEMOS, Spec
from .graph.nodes import apply

LLM_CALL_DOC = ("[llm_call] Ask a language model: `system` is the system prompt, `user` the user message, "
                "`temperature` the sampling temperature; returns the model's reply text.")
LLM_CALL_DEMOS_DOC = ("[llm_call] Ask a language model: `system` is the system prompt, `demos` (input, output) "
                      "examples shown as earlier turns of the chat, `user` the user message, `temperature` the "
                      "sampling temperature; returns the model's reply text.")


def chat_messages(system: str, user: str, demos: Any = ()) -> list:
    """The chat an llm_call sends: the system prompt, each demonstration as a user turn and the
    assistant's answer to it, then the user message."""
    messages = [{"role": "system", "content": system}]
    for example_input, example_output in demos or ():
        messages += [{"role": "user", "content": example_input}, {"role": "assistant", "content": example_output}]
    return messages + [{"role": "user", "content": user}]


def llm_call(system: Any, user: Any, *more_user: Any, temperature: Any = None, demos: Any = None, llm: Any = None,
             **options: Any) -> Node:
    """Traced chat call; ``llm`` defaults to ``to.LLM()`` (the configured or embedded model).
    ``demos`` (a ``to.Demos``, or a list of (input, output) pairs) become prior turns, and a traced
    input: feedback on the reply reaches the demonstrations too. Further user texts
    (``llm_call(system, a, b)``, Trace's ``call_llm(system, *parts)``) are sent as further user turns."""
    if llm is None:
        from .llm import LLM

        llm = _default_llm(LLM)
    if more_user:
        if demos is not None:
            raise TypeError("llm_call takes demos with one user message; join the user texts first")
        return _llm_call_parts(llm, options, system, temperature, (user,) + more_user)

    def ask(system: Any, user: Any, temperature: Optional[float] = None, demos: Any = ()) -> str:
        if not isinstance(system, str) or not isinstance(user, str):
            raise TypeError(f"llm_call needs text: system is {type(system).__name__}, user is {type(user).__name__}")
        return llm(chat_messages(system, user, demos), **_sampling(options, temperature))

    if demos is None:  # the operation as it always was (its recorded traffic unchanged)
        args = (system, user) if temperature is None else (system, user, temperature)
        return apply(Operator("llm_call", ask, LLM_CALL_DOC, ("system", "user", "temperature")), args)
    if not isinstance(demos, Node):
        demos = Node(Spec.infer(demos, "demos", None, None, MAX_DEMOS).validate(demos), "demos")
    return apply(Operator("llm_call", ask, LLM_CALL_DEMOS_DOC, ("system", "user", "temperature", "demos")),
                 (system, user, temperature, demos))


LLM_CALL_PARTS_DOC = ("[llm_call] Ask a language model: `system` is the system prompt, `temperature` the sampling "
                      "temperature, each further input one user message in turn; returns the model's reply text.")


def _llm_call_parts(llm: Any, options: dict, system: Any, temperature: Any, users: tuple) -> Node:
    def ask(system: Any, temperature: Optional[float], *users: Any) -> str:
        if not isinstance(system, str) or not all(isinstance(u, str) for u in users):
            raise TypeError("llm_call needs text: system and every user message must be str")
        messages = [{"role": "system", "content": system}] + [{"role": "user", "content": u} for u in users]
        return llm(messages, **_sampling(options, temperature))

    return apply(Operator("llm_call", ask, LLM_CALL_PARTS_DOC, ("system", "temperature")),
                 (system, temperature) + users)


def _sampling(options: dict, temperature: Any) -> dict:
    """The call's options, with the (traced) temperature when one was given."""
    return {**options, "temperature": float(temperature)} if temperature is not None else dict(options)


_shared = {}


def _default_llm(factory: Any) -> Any:
    """One default LLM per process, so its usage and cache are shared by every call."""
    if "llm" not in _shared:
        _shared["llm"] = factory()
    return _shared["llm"]
