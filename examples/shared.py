"""Small helpers the example scripts share (they import it as a sibling module)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List


def show(value: object, width: int = 70) -> str:
    """A value on one line, cut to ``width`` characters, as repr()."""
    text = " ".join(str(value).split())
    return repr(text if len(text) <= width else text[: width - 1] + "…")


def read_jsonl(path: Path) -> List[dict]:
    """The rows of a JSON-lines file."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
