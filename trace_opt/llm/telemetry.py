"""OpenTelemetry spans for every LLM call (the GenAI semantic conventions) and for training runs.

Costs nothing without OpenTelemetry: this module imports none of it. A span is made only when
``opentelemetry.trace`` is already imported (whoever set up tracing imported it; the spans go
to the global tracer provider) or when ``instrument(tracer_provider=...)`` named a provider.
Message content is not recorded unless asked for (``instrument(capture_content=True)`` or
OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true), and what is recorded is redacted.
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
from typing import Any, Dict, Iterator, List, Mapping, Optional
from urllib.parse import urlparse

from .redaction import redact

CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
TRACER_NAME = "trace_opt"
_settings: Dict[str, Any] = {"provider": None, "capture": None}
_last: List[Any] = [None, None]   # [provider, its tracer]: held, so a provider is never mistaken for another


def instrument(tracer_provider: Any = None, capture_content: Optional[bool] = None) -> None:
    """Send trace_opt's spans to ``tracer_provider`` (default: the global one, once OpenTelemetry is
    imported) and choose whether message content is recorded (default: the environment's say)."""
    _settings["provider"], _settings["capture"] = tracer_provider, capture_content


def uninstrument() -> None:
    """Back to the defaults: the global provider when imported, content not recorded."""
    instrument(None, None)


def _tracer() -> Any:
    provider = _settings["provider"]
    if provider is None:
        api = sys.modules.get("opentelemetry.trace")
        if api is None:
            return None
        provider = api.get_tracer_provider()
    if _last[0] is not provider:
        _last[:] = [provider, provider.get_tracer(TRACER_NAME)]
    return _last[1]


def capturing_content() -> bool:
    if _settings["capture"] is not None:
        return bool(_settings["capture"])
    return os.environ.get(CAPTURE_ENV, "").strip().lower() in {"1", "true", "yes"}


class _NoSpan:
    """What a span is when no tracing is set up: every method does nothing."""

    def set(self, attributes: Mapping[str, Any]) -> None:
        pass

    def cached(self, text: str) -> str:
        return text

    def answered(self, response: Any, text: str) -> str:
        return text


NO_SPAN = _NoSpan()


class _Span(_NoSpan):
    def __init__(self, span: Any, secrets: List[Optional[str]]) -> None:
        self.span, self.secrets = span, secrets

    def set(self, attributes: Mapping[str, Any]) -> None:
        """Add attributes (those that are None are left out)."""
        for key, value in attributes.items():
            if value is not None:
                self.span.set_attribute(key, value)


class _ChatSpan(_Span):
    def cached(self, text: str) -> str:
        self.span.set_attribute("trace_opt.llm.cache_hit", True)
        self._output(text, None)
        return text

    def answered(self, response: Any, text: str) -> str:
        from .provider import token_counts

        prompt_tokens, completion_tokens = token_counts(response)
        choices = getattr(response, "choices", None) or []
        reasons = [str(getattr(c, "finish_reason", None) or "unknown") for c in choices]
        attributes = {"gen_ai.usage.input_tokens": prompt_tokens, "gen_ai.usage.output_tokens": completion_tokens,
                      "gen_ai.response.finish_reasons": reasons, "trace_opt.llm.cache_hit": False}
        for key, name in (("gen_ai.response.model", "model"), ("gen_ai.response.id", "id")):
            value = getattr(response, name, None)
            if isinstance(value, str):
                attributes[key] = value
        self.span.set_attributes(attributes)
        self._output(text, reasons[0] if reasons else None)
        return text

    def _output(self, text: str, finish: Optional[str]) -> None:
        if capturing_content():
            message = {"role": "assistant", "parts": [{"type": "text", "content": redact(text, self.secrets)}]}
            if finish:
                message["finish_reason"] = finish
            self.span.set_attribute("gen_ai.output.messages", json.dumps([message], ensure_ascii=False))


def provider_name(model: str) -> str:
    """The GenAI ``gen_ai.system`` of a litellm model string: its provider prefix."""
    return model.split("/", 1)[0] if "/" in model else "_OTHER"


@contextlib.contextmanager
def chat_span(model: str, api_base: Optional[str], params: Mapping[str, Any], messages: List[Dict[str, Any]],
              secrets: List[Optional[str]]) -> Iterator[_NoSpan]:
    """A CLIENT span ``chat MODEL`` around one call, with the GenAI request attributes; the body
    calls ``.cached(text)`` or ``.answered(response, text)`` on what it yields. Errors leave it
    with status ERROR and ``error.type``."""
    tracer = _tracer()
    if tracer is None:
        yield NO_SPAN
        return
    from opentelemetry.trace import SpanKind

    system = provider_name(model)
    name = model.split("/", 1)[1] if "/" in model else model
    attributes: Dict[str, Any] = {
        "gen_ai.operation.name": "chat", "gen_ai.system": system, "gen_ai.provider.name": system,
        "gen_ai.request.model": name, "gen_ai.output.type": "json" if params.get("response_format") else "text"}
    for key, option in (("temperature", "temperature"), ("max_tokens", "max_tokens"), ("top_p", "top_p"),
                        ("seed", "seed")):
        value = params.get(option)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            attributes[f"gen_ai.request.{key}"] = value
    if api_base:
        where = urlparse(api_base)
        attributes["server.address"] = where.hostname or ""
        if where.port:
            attributes["server.port"] = where.port
    if capturing_content():
        attributes["gen_ai.input.messages"] = json.dumps(
            [{"role": m.get("role"), "parts": [{"type": "text", "content": redact(str(m.get("content", "")), secrets)}]}
             for m in messages], ensure_ascii=False)
    with tracer.start_as_current_span(f"chat {name}", kind=SpanKind.CLIENT, attributes=attributes) as span:
        try:
            yield _ChatSpan(span, secrets)
        except BaseException as error:
            span.set_attribute("error.type", type(error).__qualname__)
            raise


@contextlib.contextmanager
def span(name: str, attributes: Optional[Mapping[str, Any]] = None) -> Iterator[_NoSpan]:
    """An INTERNAL span (a training run, a step) that the LLM calls inside it are children of;
    ``set({...})`` adds attributes as they become known."""
    tracer = _tracer()
    if tracer is None:
        yield NO_SPAN
        return
    with tracer.start_as_current_span(name) as current:
        recorder = _Span(current, [])
        recorder.set(attributes or {})
        try:
            yield recorder
        except BaseException as error:
            current.set_attribute("error.type", type(error).__qualname__)
            raise
