"""On-disk response cache: the same request at temperature 0 is answered once.

SQLite (stdlib) in WAL mode with one short transaction per read or write, so several
threads and processes can share a cache file. The key is a SHA-256 of the whole request
that can change the reply (model, api_base, messages, temperature, seed, response format,
other completion options); secrets are left out of the key and nothing but the key, the
model name and the reply is stored. A broken cache never fails a call: it logs and misses.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Dict, Optional

log = logging.getLogger("trace_opt.llm")

# Completion options that do not change the reply (transport) or must never be stored (secrets).
_NOT_IN_KEY = {"timeout", "max_retries", "num_retries", "stream", "metadata", "client", "extra_headers",
               "headers", "api_key", "base_url", "api_base"}
_SECRET_WORDS = ("key", "secret", "credential", "password", "authorization", "auth_token")

_SCHEMA = """CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY, model TEXT NOT NULL, reply TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, created REAL NOT NULL)"""


def cache_dir() -> Path:
    """`TRACE_OPT_CACHE_DIR`, else ~/.cache/trace_opt (read at each use, not at import)."""
    configured = os.environ.get("TRACE_OPT_CACHE_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "trace_opt"


def cache_key(model: str, api_base: Optional[str], messages: Any, params: Dict[str, Any]) -> str:
    """Hash of everything in a request that can change the reply; secrets and transport options excluded."""
    kept = {name: value for name, value in params.items()
            if name not in _NOT_IN_KEY and not any(word in name.lower() for word in _SECRET_WORDS)}
    request = {"model": model, "api_base": api_base, "messages": messages, "params": kept}
    text = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=repr)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ResponseCache:
    """A SQLite file of replies by request key; `get` and `put` are safe across threads and processes."""

    def __init__(self, path: Optional[os.PathLike] = None):
        self.path = Path(path) if path is not None else cache_dir() / "responses.sqlite3"
        self._ready = False
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        if not self._ready:
            with self._lock:
                if not self._ready:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    with self._open() as conn:
                        conn.execute("PRAGMA journal_mode=WAL")
                        conn.execute(_SCHEMA)
                    self._ready = True
        return self._open()

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    def get(self, key: str) -> Optional[Dict[str, Any]]:
        """The stored reply for `key` (reply, prompt_tokens, completion_tokens), or None."""
        try:
            conn = self._connect()
            try:
                row = conn.execute("SELECT reply, prompt_tokens, completion_tokens FROM responses WHERE key = ?",
                                   (key,)).fetchone()
            finally:
                conn.close()
        except (sqlite3.Error, OSError) as exc:
            log.warning("response cache %s unreadable, treated as a miss: %s", self.path, exc)
            return None
        if row is None:
            return None
        return {"reply": row[0], "prompt_tokens": row[1], "completion_tokens": row[2]}

    def put(self, key: str, model: str, reply: str, prompt_tokens: int = 0, completion_tokens: int = 0) -> None:
        """Store a reply; a failure (disk full, locked too long) is logged and ignored."""
        try:
            conn = self._connect()
            try:
                conn.execute("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?)",
                             (key, model, reply, int(prompt_tokens), int(completion_tokens), time.time()))
            finally:
                conn.close()
        except (sqlite3.Error, OSError) as exc:
            log.warning("response cache %s not written: %s", self.path, exc)

    def clear(self) -> None:
        """Remove every stored reply."""
        conn = self._connect()
        try:
            conn.execute("DELETE FROM responses")
        finally:
            conn.close()

    def __len__(self) -> int:
        conn = self._connect()
        try:
            return conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
        finally:
            conn.close()

    def __repr__(self) -> str:
        return f"ResponseCache({str(self.path)!r})"


_shared: Dict[Path, ResponseCache] = {}
_shared_lock = threading.Lock()


def default_cache() -> ResponseCache:
    """The process-wide cache for the current `cache_dir()` (one object per directory)."""
    path = cache_dir() / "responses.sqlite3"
    with _shared_lock:
        if path not in _shared:
            _shared[path] = ResponseCache(path)
        return _shared[path]
