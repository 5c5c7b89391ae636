"""Check a GGUF model file before a server is started on it, and read its context length.

A missing, non-GGUF or truncated file makes llama.cpp's server exit (or crash) at load, and
a client that restarts it would go round in circles; reading the header first turns that into
one clear error naming the file. The parse is bounded: counts and lengths are checked against
the file's size, arrays of strings are skipped, not kept.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Dict, Optional

MAGIC = b"GGUF"
# Value types: fixed sizes (struct formats) of the scalar ones; 8 is a string, 9 an array.
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
# ggml tensor types: (values per block, bytes per block), for the end-of-data check.
_BLOCKS = {0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34), 9: (32, 36),
           10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210), 15: (256, 292),
           16: (256, 66), 17: (256, 74), 18: (256, 98), 19: (256, 50), 20: (32, 18), 21: (256, 110),
           22: (256, 82), 23: (256, 136), 24: (1, 1), 25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8),
           29: (256, 56), 30: (1, 2), 34: (256, 54), 35: (256, 66)}
_MAX_KEY = 65536


class GGUFError(ValueError):
    """The file is not a usable GGUF model; the message names the file and what is wrong."""


@dataclass(frozen=True)
class GGUFInfo:
    path: Path
    architecture: Optional[str]
    context_length: Optional[int]   # what the model was trained for ({arch}.context_length)
    size: int


class _Reader:
    def __init__(self, handle: BinaryIO, size: int, path: Path) -> None:
        self.handle, self.size, self.path = handle, size, path

    def take(self, count: int) -> bytes:
        if count < 0 or self.handle.tell() + count > self.size:
            raise GGUFError(f"{self.path} is truncated or corrupt: it ends inside its header "
                            f"({self.size} bytes)")
        return self.handle.read(count)

    def unpack(self, fmt: str):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self, limit: Optional[int] = None) -> bytes:
        length = self.unpack("<Q")
        if limit is not None and length > limit:
            raise GGUFError(f"{self.path} is corrupt: a {length}-byte key")
        return self.take(length)

    def skip_string(self) -> None:
        length = self.unpack("<Q")
        self.skip(length)

    def skip(self, count: int) -> None:
        if self.handle.tell() + count > self.size:
            raise GGUFError(f"{self.path} is truncated or corrupt: it ends inside its header ({self.size} bytes)")
        self.handle.seek(count, 1)

    def value(self, kind: int):
        """A scalar or string value; arrays are skipped (None)."""
        if kind in _SCALARS:
            return self.unpack(_SCALARS[kind])
        if kind == _STRING:
            return self.string(1 << 20).decode("utf-8", "replace")
        if kind == _ARRAY:
            inner, count = self.unpack("<I"), self.unpack("<Q")
            if inner in _SCALARS:
                self.skip(count * struct.calcsize(_SCALARS[inner]))
            elif inner == _STRING:
                if count > self.size:
                    raise GGUFError(f"{self.path} is corrupt: an array of {count} strings")
                for _ in range(count):
                    self.skip_string()
            else:
                raise GGUFError(f"{self.path} is corrupt: an array of value type {inner}")
            return None
        raise GGUFError(f"{self.path} is corrupt: unknown value type {kind}")


def read_gguf(path: "str | Path") -> GGUFInfo:
    """The file's architecture and context length, after checking that it is a whole GGUF file."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise GGUFError(f"{path} does not exist or is not a file")
    size = path.stat().st_size
    with open(path, "rb") as handle:
        reader = _Reader(handle, size, path)
        if size < 24 or handle.read(4) != MAGIC:
            raise GGUFError(f"{path} is not a GGUF model file (it does not start with 'GGUF')")
        version = reader.unpack("<I")
        if version not in (2, 3):
            raise GGUFError(f"{path}: GGUF version {version} is not supported (2 or 3 are)")
        tensors, entries = reader.unpack("<Q"), reader.unpack("<Q")
        if tensors > size // 24 or entries > size // 12:
            raise GGUFError(f"{path} is truncated or corrupt: {tensors} tensors and {entries} metadata entries "
                            f"cannot fit in {size} bytes")
        metadata: Dict[str, object] = {}
        for _ in range(entries):
            key = reader.string(_MAX_KEY).decode("utf-8", "replace")
            metadata[key] = reader.value(reader.unpack("<I"))
        end = 0
        for _ in range(tensors):
            reader.skip_string()
            dims = reader.unpack("<I")
            if dims > 8:
                raise GGUFError(f"{path} is corrupt: a tensor with {dims} dimensions")
            count = 1
            for _ in range(dims):
                count *= reader.unpack("<Q")
            kind, offset = reader.unpack("<I"), reader.unpack("<Q")
            per_block, block_bytes = _BLOCKS.get(kind, (1, 0))  # an unknown type: its start is still checked
            end = max(end, offset + -(-count // per_block) * block_bytes)
        alignment = metadata.get("general.alignment") or 32
        data_start = -(-handle.tell() // int(alignment)) * int(alignment)
    if data_start + end > size:
        raise GGUFError(f"{path} is truncated: its tensors need {data_start + end} bytes, the file has {size}")
    architecture = metadata.get("general.architecture")
    context = metadata.get(f"{architecture}.context_length") if isinstance(architecture, str) else None
    return GGUFInfo(path, architecture if isinstance(architecture, str) else None,
                    int(context) if isinstance(context, int) and context > 0 else None, size)
