"""The quality benchmark's tasks: data, splits, instruction and metric, in plain Python.

Standard library only: the peers' workers (_quality_peer.py, run in their own venvs) import this
file too, so every library is scored on the same rows by the same function. Each task has 48
rows shipped in the repo: 12 to train on, 12 to validate with, 24 held out (never seen by any
optimizer). A reply is right when its first line, stripped of spaces, quotes and a final full
stop, equals the target (case-insensitive).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
Row = Tuple[str, str]  # (input, target)


@dataclass(frozen=True)
class Task:
    name: str
    instructions: str   # the baseline prompt every method starts from
    input_name: str     # what the input is called (DSPy signatures name their fields)
    output_name: str
    path: Path
    keys: Tuple[str, str] = ("input", "target")

    def rows(self) -> List[Row]:
        with open(self.path, encoding="utf-8") as handle:
            records = [json.loads(line) for line in handle if line.strip()]
        return [(str(r[self.keys[0]]), str(r[self.keys[1]])) for r in records]

    def splits(self) -> Dict[str, List[Row]]:
        rows = self.rows()
        return {"train": rows[:12], "val": rows[12:24], "test": rows[24:48]}


TASKS = {task.name: task for task in (
    Task("cities", "Name the city the sentence mentions. Reply with the city name only.",
         "sentence", "city", ROOT / "examples" / "data" / "cities.jsonl", ("sentence", "city")),
    Task("sentiment", "Is the review positive or negative? Reply with one word: positive or negative.",
         "review", "sentiment", HERE / "data" / "sentiment.jsonl"),
    Task("topic", "Which topic is the headline about: sports, food, weather or music? Reply with one word.",
         "headline", "topic", HERE / "data" / "topic.jsonl"),
)}


def normalize(reply: object) -> str:
    lines = str(reply).strip().splitlines()
    return (lines[0] if lines else "").strip().strip("\"'`*").strip().rstrip(".").strip().lower()


def correct(reply: object, target: str) -> bool:
    return normalize(reply) == target.strip().lower()
