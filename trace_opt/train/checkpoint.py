"""Checkpoints: everything a killed run needs to go on, in one JSON file written atomically.

The agent's parameters, the optimizer's state (tensors included, as data), the step reached,
the best validation score and the history. Dict keys that are not strings (torch optimizers
key their state by position) are kept as they were, so the state loads back unchanged.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Union

from ..graph.kinds import is_tensor
from ..graph.serialize import decode_value, encode_value, write_json_atomic
from ..sandbox import bounded_json

CHECKPOINT = "checkpoint.json"
_ITEMS = "__dict_items__"


def encode_tree(value: Any) -> Any:
    """A JSON-ready copy of nested dicts, lists, tensors and plain values."""
    if is_tensor(value):
        return encode_value(value)
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: encode_tree(v) for k, v in value.items()}
        return {_ITEMS: [[encode_tree(k), encode_tree(v)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return [encode_tree(v) for v in value]
    return value


def decode_tree(value: Any) -> Any:
    if isinstance(value, dict):
        if _ITEMS in value and len(value) == 1:
            return {_hashable(decode_tree(k)): decode_tree(v) for k, v in value[_ITEMS]}
        decoded = decode_value(value)
        if decoded is not value:
            return decoded
        return {k: decode_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_tree(v) for v in value]
    return value


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


def save_checkpoint(run_dir: Union[str, Path], state: Dict[str, Any]) -> Path:
    return write_json_atomic(Path(run_dir) / CHECKPOINT, encode_tree(state))


def load_checkpoint(run_dir: Union[str, Path]) -> Dict[str, Any]:
    path = Path(run_dir) / CHECKPOINT
    if not path.exists():
        raise FileNotFoundError(f"{run_dir} has no {CHECKPOINT}: nothing to resume")
    try:
        return decode_tree(bounded_json.loads(path.read_bytes(), what=str(path)))
    except ValueError as exc:
        raise ValueError(f"{path} is not a usable checkpoint: {exc}") from None


def checked_state(state: Any, counters=("step", "since_best"), tables=("agent",), lists=("history",)) -> Dict[str, Any]:
    """A loaded checkpoint whose fields have the types a resume relies on; ValueError naming the
    first that does not (a hand-edited or foreign file must not resume at step -5)."""
    if not isinstance(state, dict):
        raise ValueError(f"a checkpoint holds an object, not a {type(state).__name__}")
    for name in counters:
        value = state.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"the checkpoint's {name!r} must be a count (an int >= 0), got {value!r:.60}")
    for name, kind in [(n, dict) for n in tables] + [(n, list) for n in lists]:
        if not isinstance(state.get(name), kind):
            raise ValueError(f"the checkpoint's {name!r} must be a {kind.__name__}, got {type(state.get(name)).__name__}")
    best = state.get("best_val_score", None)
    if best is not None and (isinstance(best, bool) or not isinstance(best, (int, float))):
        raise ValueError(f"the checkpoint's 'best_val_score' must be a number or null, got {best!r:.60}")
    return state
