"""Token estimates for prompt budgets: cheap, deterministic, and never below the real count
for ordinary text (BPE tokenizers average 3.5-4.5 bytes per token on English and code)."""
from __future__ import annotations

import reprlib
from typing import Any

BYTES_PER_TOKEN = 3


def estimate_tokens(text: str) -> int:
    """An upper estimate of the tokens in ``text``; additive, so parts can be budgeted separately."""
    return -(-len(text.encode("utf-8")) // BYTES_PER_TOKEN)


def truncate(text: str, max_chars: int) -> str:
    """Keep the head and the tail of a long value, saying how much was cut."""
    if len(text) <= max_chars:
        return text
    if max_chars < 24:
        return text[: max(max_chars - 1, 0)] + "…"
    keep = max_chars - 20
    head, tail = text[: keep * 2 // 3], text[-(keep // 3):] if keep // 3 else ""
    return f"{head} …[{len(text) - len(head) - len(tail)} chars cut]… {tail}"


def fit_tokens(text: str, max_tokens: int) -> str:
    """Truncate text (head and tail kept) until its estimate is within max_tokens."""
    if estimate_tokens(text) <= max_tokens:
        return text
    chars = max(max_tokens * BYTES_PER_TOKEN // 2, 8)
    while chars > 8 and estimate_tokens(truncate(text, chars)) > max_tokens:
        chars //= 2
    return truncate(text, chars)


_PREVIEW = reprlib.Repr()
_PREVIEW.maxstring = _PREVIEW.maxother = 2000
_PREVIEW.maxlist = _PREVIEW.maxtuple = _PREVIEW.maxdict = _PREVIEW.maxset = 50
_PREVIEW.maxlevel = 4


def preview(value: Any) -> str:
    """repr() of a value, bounded however big the value is (time and length)."""
    if isinstance(value, str) and len(value) <= 2000:
        return repr(value)
    return _PREVIEW.repr(value)
