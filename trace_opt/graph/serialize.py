"""Parameter values as JSON (readable and diffable, never pickle), written atomically."""
from __future__ import annotations

import glob
import json
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Union

from .kinds import is_tensor

_TENSOR = "__tensor__"
_TMP = ".tmp"


def encode_value(value: Any) -> Any:
    """A JSON-ready form of a parameter value; tensors become dtype, shape and nested lists."""
    if is_tensor(value):
        flat = value.detach().cpu()
        data = flat.tolist()
        if flat.is_floating_point() and not bool(flat.isfinite().all()):
            data = _map_floats(data, _nonfinite_out)  # JSON has no NaN or Infinity: "nan", "inf", "-inf"
        return {_TENSOR: True, "dtype": str(flat.dtype).removeprefix("torch."), "shape": list(flat.shape),
                "data": data}
    return value


def decode_value(value: Any) -> Any:
    """Inverse of encode_value. Tensors come back on the CPU; the caller moves them."""
    if isinstance(value, dict) and value.get(_TENSOR) is True:
        import torch  # only a file that holds tensors needs torch

        dtype = getattr(torch, value["dtype"], None)
        if not isinstance(dtype, torch.dtype):
            raise ValueError(f"unknown tensor dtype {value['dtype']!r}")
        return torch.tensor(_map_floats(value["data"], _nonfinite_in), dtype=dtype).reshape(value["shape"])
    return value


def _nonfinite_out(x: Any) -> Any:
    return x if not isinstance(x, float) or math.isfinite(x) else str(x)


def _nonfinite_in(x: Any) -> Any:
    return float(x) if x in ("nan", "inf", "-inf") else x


def _map_floats(data: Any, convert: Any) -> Any:
    """The nested lists of a tensor with each item converted (depth is the tensor's, so small)."""
    if isinstance(data, list):
        return [_map_floats(item, convert) for item in data]
    return convert(data)


def assign_in_place(parameter: Any, value: Any) -> None:
    """Store an already validated value; a tensor is copied into the existing tensor, on its
    device, so optimizers and autograd that hold it keep working."""
    current = parameter._data
    if is_tensor(current) and is_tensor(value):
        torch = sys.modules["torch"]
        with torch.no_grad():
            current.copy_(value)
    else:
        parameter._data = value


def write_json_atomic(path: Union[str, Path], document: Any) -> Path:
    """Write JSON so that a crash leaves either the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=_TMP, dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2, ensure_ascii=False, allow_nan=False)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def remove_stale_temps(path: Union[str, Path]) -> None:
    """Delete the temp files of writes to ``path`` that a kill cut short (a failed write removes
    its own; a SIGKILL cannot). Only for a file no other process is writing."""
    path = Path(path)
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*{_TMP}"):
        stale.unlink(missing_ok=True)
