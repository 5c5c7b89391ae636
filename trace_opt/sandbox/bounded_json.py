"""The one JSON parser for untrusted text: bounded in size and nesting depth.

`json.loads` recurses once per level of nesting, so a reply, result or file nested 100,000
deep raises RecursionError from wherever it is parsed, and a huge one takes all memory.
`loads` measures both first, in linear time and without recursion, and turns a violation
into ValueError (json's own error type), which every caller already handles.
"""
from __future__ import annotations

import itertools
import json
import re
from typing import Any, Union

MAX_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 200

_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


class TooLargeOrDeep(ValueError):
    """The text is larger or nested deeper than the parser takes."""


def depth(text: Union[str, bytes]) -> int:
    """The deepest nesting of arrays and objects in a JSON text (strings skipped)."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    brackets = _STRINGS.sub(b"", data).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    return max(itertools.accumulate(map(_STEP.__getitem__, brackets)))


def check(text: Union[str, bytes], max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH,
          what: str = "the JSON text") -> None:
    """Raise TooLargeOrDeep when `text` is over `max_bytes` or nested deeper than `max_depth`."""
    size = len(text.encode("utf-8", "surrogatepass")) if isinstance(text, str) else len(text)
    if size > max_bytes:
        raise TooLargeOrDeep(f"{what} is {size} bytes, over the limit of {max_bytes}")
    nesting = depth(text)
    if nesting > max_depth:
        raise TooLargeOrDeep(f"{what} is nested {nesting} deep, over the limit of {max_depth}")


def loads(text: Union[str, bytes], max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH,
          what: str = "the JSON text", **options: Any) -> Any:
    """`json.loads` for text nobody vouches for: ValueError when it is too big, too deep or
    not JSON."""
    check(text, max_bytes, max_depth, what)
    try:
        return json.loads(text, **options)
    except RecursionError:  # a limit below the interpreter's stack: still the documented error
        raise TooLargeOrDeep(f"{what} is nested too deep to parse") from None
