"""Parameter files: what ``Module.save``/``load`` (and a bundled function's) write and read.

One format for any holder of named parameters: every value validated before any is assigned,
assigned in place (optimizers built before a load keep their parameter objects), and code an
optimizer accepted keeps its isolated runner across a save and a load.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Union

from .isolated import runner_from_json, runner_to_json
from .nodes import Parameter
from .serialize import assign_in_place, decode_value, encode_value, write_json_atomic
from ..sandbox import bounded_json

FORMAT = "trace_opt.module"
VERSION = 1


def save_parameters(params: Dict[str, Parameter], path: Union[str, Path], owner: str) -> Path:
    """Write name -> value (and kind, and runner for isolated code) to a JSON file, atomically."""
    return write_json_atomic(path, document(owner, describe(params), {name: p.data for name, p in params.items()}))


def describe(params: Dict[str, Parameter]) -> Dict[str, Dict[str, Any]]:
    """What a file says of each parameter besides its value: its kind, and how accepted code runs
    (a checkpoint keeps this beside the values, so a run directory can be exported as a file)."""
    return {name: {"kind": p.kind, **({"runner": runner_to_json(p.code_runner)} if p.code_runner else {})}
            for name, p in params.items()}


def document(owner: str, described: Dict[str, Dict[str, Any]], values: Dict[str, Any]) -> Dict[str, Any]:
    """A parameter file's content from ``describe``'s table and the values."""
    entries = {}
    for name, entry in described.items():
        entries[name] = {"kind": entry["kind"], "value": encode_value(values[name]),
                         **({"runner": entry["runner"]} if entry.get("runner") is not None else {})}
    return {"format": FORMAT, "version": VERSION, "module": owner, "parameters": entries}


def load_parameters(params: Dict[str, Parameter], path: Union[str, Path], owner: str) -> None:
    """Load a file written by `save_parameters` into ``params``; a mismatch changes nothing."""
    path = Path(path)
    try:
        document = bounded_json.loads(path.read_bytes(), what=str(path))
    except ValueError as exc:
        raise ValueError(f"{path} is not a trace_opt module file: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"{path} is not a trace_opt module file (format {FORMAT!r} expected)")
    entries = document.get("parameters")
    if not isinstance(entries, dict):
        raise ValueError(f"{path} has no 'parameters' table")
    wrong_kind = [f"{name} is {entry.get('kind')!r} in the file but {params[name].kind!r} here"
                  for name, entry in entries.items() if name in params and entry.get("kind") != params[name].kind]
    if wrong_kind:
        raise ValueError(f"{path}: " + "; ".join(wrong_kind))
    runners = {name: runner_from_json(entry["runner"]) for name, entry in entries.items()
               if name in params and isinstance(entry, dict) and entry.get("runner") is not None}
    assign_values(params, {name: decode_value(entry.get("value")) for name, entry in entries.items()}, True, owner)
    for name, runner in runners.items():  # code an optimizer accepted stays isolated after a load
        params[name].code_runner = runner


def assign_values(params: Dict[str, Parameter], state: Dict[str, Any], strict: bool, owner: str) -> None:
    """Validate every value first, then assign all in place; on any error nothing changes."""
    if not isinstance(state, dict):
        raise TypeError(f"load_state_dict() needs a dict of name -> value, got {type(state).__name__}")
    missing = sorted(params.keys() - state.keys())
    unknown = sorted(state.keys() - params.keys())
    if strict and (missing or unknown):
        raise ValueError(f"parameter names do not match {owner}: "
                         f"missing {missing or 'none'}, unknown {unknown or 'none'}")
    checked, errors = {}, []
    for name, value in state.items():
        if name in params:
            try:
                checked[name] = params[name].validate(value)
            except ValueError as exc:
                errors.append(f"{name}: {exc}")
    if errors:
        raise ValueError("invalid values, nothing was loaded: " + "; ".join(errors))
    for name, value in checked.items():
        assign_in_place(params[name], value)
