"""Text an LLM optimizer must not install: echoes of its own prompt rather than a new value.

Asked to improve a prompt, a small model often answers with pieces of the request: code fences
and JSON braces, the renderer's elision marker, the optimizer's own wording ("what should change
and why"), or an input of the run (a training example) copied whole. Such a value can tie on validation
and be kept, and the next step then edits junk. ``junk_reason`` names what is wrong with a
proposed text value (None: it may be tried); only the ``text`` kind is judged this way.
"""
from __future__ import annotations

import re
from typing import Iterable, Optional

from .tokens import ELISION

COPY_MIN_CHARS = 20        # an input at least this long, found whole in the value, is a copy
SCAFFOLD_SHARE = 0.5       # of the value's words (4+ letters) taken from the prompt's wording, not its own
SCAFFOLD_MIN_WORDS = 3
MARKUP = "{}[]`"
_WORD = re.compile(r"[a-z]{4,}")


def words(text: str) -> set:
    """The words of 4+ letters, lower-cased, a possessive or contraction cut off (what's -> what)."""
    return set(_WORD.findall(re.sub(r"'[a-z]+", "", text.lower())))


def junk_reason(value: str, *, current: str, scaffolding: str, copies_of: Iterable[str] = ()) -> Optional[str]:
    """Why ``value`` is not a usable text value, or None. ``current``: what the parameter holds
    (wording kept from it never counts against the value); ``scaffolding``: the optimizer's fixed
    prompt text; ``copies_of``: the run's inputs (feedback may rightly be adopted as an instruction)."""
    if ELISION.search(value) or "chars cut]" in value:
        return "holds the prompt's elision marker (…[N chars cut]…): a cut copy of a value, not a value"
    if "```" in value and "```" not in current:
        return "holds a code fence: a text value is not a code block"
    markup = sum(value.count(ch) for ch in MARKUP if ch not in current)
    visible = len("".join(value.split()))
    if markup >= 2 and markup >= 0.05 * visible:
        return f"is JSON or markup ({markup} of {visible} characters are {MARKUP}), not text"
    for source in copies_of:
        source = source.strip()
        if len(source) >= COPY_MIN_CHARS and source in value and source not in current:
            return f"copies an input of the run verbatim ({source[:60]!r})"
    own = words(current)
    long_words = words(value) - own
    borrowed = long_words & words(scaffolding)
    if len(borrowed) >= SCAFFOLD_MIN_WORDS and len(borrowed) >= SCAFFOLD_SHARE * len(words(value)):
        return (f"is mostly the optimizer's own prompt wording ({', '.join(sorted(borrowed))}), "
                "not a new value for the task")
    return None
