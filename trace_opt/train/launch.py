"""Starting and resuming runs by name, for ``trace-opt run`` and ``trace-opt resume``.

A run is started from a factory, ``path/to/file.py:make_trainer`` or ``package.module:make_trainer``:
a function that takes the run directory and returns a Trainer checkpointing there. The entry
is recorded in RUN_DIR/run.json, so ``resume`` rebuilds the same agent and optimizer and
continues from the last checkpoint.
"""
from __future__ import annotations

import importlib
import importlib.util
import json
from pathlib import Path
from typing import Any, Callable, Union

from ..graph.serialize import write_json_atomic

RUN_FILE = "run.json"


def load_factory(entry: str) -> Callable[[Path], Any]:
    """The function an entry names; a clear error saying what is wrong otherwise."""
    target, _, name = entry.rpartition(":")
    if not target or not name:
        raise ValueError(f"an entry is FILE.py:FUNCTION or MODULE:FUNCTION, got {entry!r}")
    if target.endswith(".py"):
        path = Path(target).resolve()
        if not path.exists():
            raise FileNotFoundError(f"{target} does not exist")
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(target)
    factory = getattr(module, name, None)
    if not callable(factory):
        raise ValueError(f"{target} has no function {name!r}")
    return factory


def start(entry: str, run_dir: Union[str, Path]) -> Any:
    """Build the trainer from ``entry``, record the entry in the run directory, and train."""
    from .trainer import Trainer

    run_dir = Path(run_dir)
    trainer = load_factory(entry)(run_dir)
    if not isinstance(trainer, Trainer) or trainer.run_dir is None or trainer.run_dir.resolve() != run_dir.resolve():
        raise TypeError(f"{entry} must return a Trainer with checkpoint_dir={str(run_dir)!r}")
    write_json_atomic(run_dir / RUN_FILE, {"entry": entry})
    return trainer.fit()


def resume(run_dir: Union[str, Path]) -> Any:
    """Rebuild the trainer a run was started with and continue it from its last checkpoint."""
    run_dir = Path(run_dir)
    record = run_dir / RUN_FILE
    if not record.exists():
        raise FileNotFoundError(f"{run_dir} has no {RUN_FILE}: it was not started with trace-opt run")
    entry = json.loads(record.read_text(encoding="utf-8"))["entry"]
    return load_factory(entry)(run_dir).resume()
