"""Which names hold credentials: one rule for environment variables, attributes and globals.

A name is treated as a secret when any of its words is a credential word (`OPENAI_API_KEY`,
`HF_TOKEN`, `DB_PASSWORD`, `GOOGLE_APPLICATION_CREDENTIALS`, `api_key`, `authToken`, ...).
Erring on the side of hiding: a false positive keeps a value from a prompt or a worker, a
false negative could leak it.
"""
from __future__ import annotations

import re

_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z0-9]+(?![a-z])")
_CREDENTIAL_WORDS = frozenset({
    "key", "apikey", "token", "secret", "secrets", "password", "passwd", "pwd", "passphrase",
    "credential", "credentials", "auth", "authorization", "bearer", "cookie", "session", "private",
    "cert", "signature", "dsn",
})


def words(name: str) -> list:
    """`OPENAI_API_KEY` -> [openai, api, key]; `authToken` -> [auth, token]."""
    return [w.lower() for part in re.split(r"[^A-Za-z0-9]+", name) for w in _WORDS.findall(part)]


def looks_like_secret(name: str) -> bool:
    """Whether a variable, attribute or key of this name should be treated as a credential."""
    return any(word in _CREDENTIAL_WORDS for word in words(str(name)))
