"""Structured output: ask for JSON matching a pydantic model, read it out of the reply,
and word the re-ask that quotes what was wrong.

Small models wrap JSON in code fences or prose, cut it short, or leave fields out; the
reader tolerates the wrapping and reports the rest precisely so the re-ask can say it.
"""
from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Type, TypeVar

from pydantic import BaseModel, ValidationError

from .errors import truncate

from ..sandbox import bounded_json

MAX_REPLY_BYTES = 4 * 1024 * 1024
MAX_REPLY_DEPTH = 64  # deeper than any schema an optimizer asks for

M = TypeVar("M", bound=BaseModel)

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)


class UnusableReply(ValueError):
    """A reply that cannot be turned into the requested model; the message says why."""


def check_schema(schema: Any) -> Type[BaseModel]:
    if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
        raise TypeError(f"schema must be a pydantic BaseModel subclass, got {schema!r}")
    return schema


def response_format(schema: Type[BaseModel], local_server: bool) -> Dict[str, Any]:
    """llama.cpp-style `json_object` + schema for a local OpenAI-compatible server (its
    `json_schema` form answers HTTP 500); OpenAI's `json_schema` form for hosted providers."""
    json_schema = schema.model_json_schema()
    if local_server:  # the server constrains output to the schema (LLM.constrains_json_schema)
        return {"type": "json_object", "schema": json_schema}
    return {"type": "json_schema", "json_schema": {"name": schema.__name__, "schema": json_schema}}


def extract_json(text: str) -> Any:
    """The JSON value in a reply: the whole text, a fenced block, or the first object in prose.
    Raw newlines and tabs inside strings are accepted (strict=False): small models write them."""
    stripped = (text or "").strip()
    if not stripped:
        raise UnusableReply("the reply was empty")
    try:
        bounded_json.check(stripped, max_bytes=MAX_REPLY_BYTES, max_depth=MAX_REPLY_DEPTH, what="the reply")
    except ValueError as exc:  # json would recurse once per level: a deep reply is unusable, not a crash
        raise UnusableReply(str(exc)) from None
    try:
        return json.loads(stripped, strict=False)
    except json.JSONDecodeError as exc:
        first_error = exc
    for block in _FENCE.findall(stripped):
        try:
            return json.loads(block.strip(), strict=False)
        except json.JSONDecodeError:
            pass
    decoder = json.JSONDecoder(strict=False)
    for match in re.finditer(r"\{", stripped):
        try:
            value, _ = decoder.raw_decode(stripped, match.start())
            return value
        except json.JSONDecodeError:
            continue
    raise UnusableReply(f"the reply is not valid JSON ({first_error.msg} at line {first_error.lineno} "
                        f"column {first_error.colno})")


def _validation_summary(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False)[:10]:
        where = ".".join(str(p) for p in error.get("loc", ())) or "(top level)"
        parts.append(f"{where}: {error.get('msg')}")
    more = len(exc.errors()) - len(parts)
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def parse_reply(text: str, schema: Type[M]) -> M:
    """The validated instance, or `UnusableReply` naming the parse or validation error."""
    value = extract_json(text)
    if not isinstance(value, dict):
        raise UnusableReply(f"the reply is JSON but not an object (got {type(value).__name__})")
    try:
        return schema.model_validate(value)
    except ValidationError as exc:
        raise UnusableReply(f"the JSON does not match the schema: {_validation_summary(exc)}") from None


def reask_messages(messages: List[dict], reply: str, error: str, schema: Type[BaseModel]) -> List[dict]:
    """The conversation plus the unusable reply and a request that quotes the error."""
    schema_text = json.dumps(schema.model_json_schema(), sort_keys=True, separators=(",", ":"))
    follow_up = (f"Your reply could not be used: {error}. Reply again with only one JSON object, "
                 f"no other text, that matches this JSON schema: {schema_text}")
    # The quoted reply is cut short: a small context window must still hold the whole re-ask.
    extra = [{"role": "assistant", "content": truncate(reply, 1200)}] if reply and reply.strip() else []
    return [*messages, *extra, {"role": "user", "content": follow_up}]
