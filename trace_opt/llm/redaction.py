"""Keeping secrets out of text: every message, log line, event, prompt and cache row.

A secret is a value the caller names, the value of a credential-named environment variable
(`sandbox.secret_names`: `*_KEY`, `*_TOKEN`, `*CREDENTIAL*`, ...), or anything shaped like a
provider key. Code that saw a secret can hand it back disguised, so each is also looked for
reversed, with separators between its characters ("s k - a b" or "sk-" + "ab"), in hex, and
in base64 at each of the three byte alignments it can have inside a longer encoding.
"""
from __future__ import annotations

import base64
import functools
import os
import re
from typing import Iterable, List, Optional, Tuple

from ..sandbox.secret_names import looks_like_secret

# Shapes of provider keys that must never reach a message, log line or cache row.
KEY_PATTERNS = re.compile(
    r"(sk-[A-Za-z0-9_\-]{8,}|AIza[0-9A-Za-z_\-]{20,}|(?i:bearer)\s+[A-Za-z0-9_\-\.=]{8,})"
)
MIN_SECRET = 8  # shorter values are too common to hide (and the disguises of 4 characters match everywhere)
_SEPARATOR = r"[\s\W_]{0,8}"


def environment_secrets() -> List[str]:
    """Values of credential-named environment variables (read at each call): litellm reads some
    of them itself, so a client may send a key it never held."""
    return [value for name, value in os.environ.items() if looks_like_secret(name) and len(value) >= MIN_SECRET]


def _base64_cores(secret: bytes) -> List[str]:
    """The part of the secret's base64 that is the same wherever it starts in a longer stream."""
    cores = []
    for offset in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"\0" * offset + secret + b"\0\0").decode()
            start = (offset * 4 + 2) // 3 + 1  # characters that mix in bytes before the secret
            core = text[start:start + (len(secret) * 4) // 3 - 3]
            if len(core) >= MIN_SECRET:
                cores.append(core)
    return cores


@functools.lru_cache(maxsize=64)
def _pattern(secrets: Tuple[str, ...]) -> Optional["re.Pattern[str]"]:
    forms = set()
    for secret in secrets:
        raw = secret.encode("utf-8", "surrogatepass")
        for text in (secret, secret[::-1]):
            forms.add(_SEPARATOR.join(re.escape(ch) for ch in text))
        forms.update(re.escape(form) for form in (raw.hex(), raw.hex().upper(), *_base64_cores(raw)))
    if not forms:
        return None
    return re.compile("|".join(sorted(forms, key=len, reverse=True)))


def redact(text: str, secrets: Iterable[Optional[str]] = ()) -> str:
    """`text` with the given secrets, credentials from the environment and anything shaped like
    an API key (each also in its disguises) replaced by '***'."""
    known = tuple(sorted({s for s in [*secrets, *environment_secrets()] if s and len(s) >= MIN_SECRET}))
    pattern = _pattern(known)
    if pattern is not None:
        text = pattern.sub("***", text)
    return KEY_PATTERNS.sub("***", text)


def holds_secret(error: Optional[BaseException], secrets: Iterable[Optional[str]] = ()) -> bool:
    """Whether `error`, or an error a traceback of it shows (its cause or context), has text that
    `redact` would change: such an error must not be chained to one we raise."""
    secrets, seen = list(secrets), set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        text = f"{error}\n{error.args!r}"
        if redact(text, secrets) != text:
            return True
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    return False
