"""Token estimates for prompt budgets: cheap, deterministic, and never below the real count
for ordinary text (BPE tokenizers average 3.5-4.5 bytes per token on English and code)."""
from __future__ import annotations

import re
import reprlib
from typing import Any

BYTES_PER_TOKEN = 3
WHOLE_VALUE_CHARS = 4000  # a trainable value is shown whole up to this: the model edits what it sees
ELISION = re.compile(r"…\[\d+ chars cut\]…")  # what elide() leaves in a cut value


PROMPT_SHARE = 0.6    # of a known context window, for the prompt an optimizer sends
REPLY_SHARE = 0.35    # ... and for the reply it asks for (the rest is the chat template's)
MAX_REPLY_TOKENS = 4096


def prompt_budget(llm: Any, default: int) -> int:
    """Tokens an optimizer's prompt may use: ``default``, or less when the LLM's window is smaller."""
    window = getattr(llm, "context_window", None)
    return min(default, int(window * PROMPT_SHARE)) if window else default


def reply_budget(llm: Any) -> dict:
    """The completion options that keep a reply inside the LLM's window ({} when it is unknown)."""
    window = getattr(llm, "context_window", None)
    return {"max_tokens": min(MAX_REPLY_TOKENS, int(window * REPLY_SHARE))} if window else {}


def estimate_tokens(text: str) -> int:
    """An upper estimate of the tokens in ``text``; additive, so parts can be budgeted separately."""
    return -(-len(text.encode("utf-8")) // BYTES_PER_TOKEN)


def elide(text: str, max_chars: int) -> str:
    """Keep the head and the tail of a long value, saying how much was cut: for values shown to an
    LLM, whose end often matters (an error's last line, a function's return). Messages to people
    use ``trace_opt.llm.errors.truncate`` (the head, and how much more there was)."""
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
    while chars > 8 and estimate_tokens(elide(text, chars)) > max_tokens:
        chars //= 2
    return elide(text, chars)


_PREVIEW = reprlib.Repr()
_PREVIEW.maxstring = _PREVIEW.maxother = 2000
_PREVIEW.maxlist = _PREVIEW.maxtuple = _PREVIEW.maxdict = _PREVIEW.maxset = 50
_PREVIEW.maxlevel = 4


def preview(value: Any) -> str:
    """repr() of a value, bounded however big the value is (time and length)."""
    if isinstance(value, str) and len(value) <= 2000:
        return repr(value)
    return _PREVIEW.repr(value)
