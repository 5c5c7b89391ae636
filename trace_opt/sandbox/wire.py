"""What crosses between the host and an isolated worker: plain data in length-prefixed frames.

A value is encoded to JSON with tags for the plain types JSON lacks (tuple, set, frozenset,
bytes, a dict whose keys are not all strings), so `(a, b)` comes back a tuple. Nothing that
could run code on load (pickle) ever crosses. Both ends bound what they accept: a frame's
size, a value's nesting depth and size; a violation is a ValueError naming the limit.
This module is also the worker's (it runs there by its source): stdlib only.
"""
from __future__ import annotations

import base64
import json
import os
import struct

TAG = "__t"
_HEADER = struct.Struct(">I")


class WireError(ValueError):
    """A frame or value that breaks the protocol or its limits."""


def encode(value, max_depth=100):
    """`value` as JSON-ready data; TypeError for what is not plain data, WireError past `max_depth`."""
    def walk(item, level):
        if level > max_depth:
            raise WireError(f"the value is nested deeper than {max_depth} levels")
        if item is None or isinstance(item, (bool, int, float, str)):
            return item
        if isinstance(item, list):
            return [walk(v, level + 1) for v in item]
        if isinstance(item, tuple):
            return {TAG: "tuple", "v": [walk(v, level + 1) for v in item]}
        if isinstance(item, (set, frozenset)):
            return {TAG: type(item).__name__, "v": [walk(v, level + 1) for v in item]}
        if isinstance(item, (bytes, bytearray)):
            return {TAG: "bytes", "v": base64.b64encode(bytes(item)).decode()}
        if isinstance(item, dict):
            if all(isinstance(k, str) for k in item) and TAG not in item:
                return {k: walk(v, level + 1) for k, v in item.items()}
            return {TAG: "dict", "v": [[walk(k, level + 1), walk(v, level + 1)] for k, v in item.items()]}
        raise TypeError(f"a {type(item).__name__} is not plain data (None, bool, int, float, str, "
                        "bytes, list, tuple, set, dict)")
    return walk(value, 0)


def decode(data, max_depth=100):
    """The value `encode` made; WireError for a tag it does not know or a depth past `max_depth`."""
    def walk(item, level):
        if level > max_depth:
            raise WireError(f"the value is nested deeper than {max_depth} levels")
        if isinstance(item, list):
            return [walk(v, level + 1) for v in item]
        if not isinstance(item, dict):
            return item
        if TAG not in item:
            return {k: walk(v, level + 1) for k, v in item.items()}
        kind, inner = item.get(TAG), item.get("v")
        try:
            if kind == "bytes":
                return base64.b64decode(inner, validate=True)
            items = [walk(v, level + 1) for v in inner]
            if kind == "tuple":
                return tuple(items)
            if kind in ("set", "frozenset"):
                return (set if kind == "set" else frozenset)(items)
            if kind == "dict":
                return {_hashable(k): v for k, v in items}
        except (TypeError, ValueError) as exc:
            raise WireError(f"a malformed {kind!r} value: {exc}") from None
        raise WireError(f"an unknown value tag {kind!r}")
    return walk(data, 0)


def _hashable(key):
    return tuple(_hashable(k) for k in key) if isinstance(key, list) else key


def dumps(message) -> bytes:
    """One frame: 4-byte length, then the message as UTF-8 JSON."""
    body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")
    return _HEADER.pack(len(body)) + body


def write_frame(fd, message) -> None:
    data = memoryview(dumps(message))
    while data:
        data = data[os.write(fd, data):]


def frame_length(header: bytes, max_bytes: int) -> int:
    """The body length a header announces; WireError when it is over `max_bytes`."""
    (length,) = _HEADER.unpack(header)
    if length > max_bytes:
        raise WireError(f"a frame of {length} bytes, over the limit of {max_bytes}")
    return length


def read_exactly(fd, count: int) -> bytes:
    """Blocking read of `count` bytes (the worker's side); EOFError when the other end closed."""
    parts, left = [], count
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError("the other end closed the channel")
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def read_frame(fd, max_bytes: int):
    """The next message (the worker's side: the host is trusted, its frames plain JSON)."""
    length = frame_length(read_exactly(fd, _HEADER.size), max_bytes)
    return json.loads(read_exactly(fd, length))


HEADER_SIZE = _HEADER.size
