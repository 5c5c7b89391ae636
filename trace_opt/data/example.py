"""`Example`: a dataset row with named fields, some marked as the agent's inputs (DSPy's shape).

People coming from DSPy bring ``Example(question=..., answer=...).with_inputs("question")``:
the inputs go to the agent, the other fields (the labels) are what a guide compares with. An
agent's answer reaches a ``(gold, pred, trace)`` metric as a ``Prediction``, the same kind of
row, so ``pred.answer`` reads as in DSPy.
"""
from __future__ import annotations

from typing import Any, Dict, Iterator, Mapping, Optional, Tuple


class Example:
    """Named fields (attributes and keys alike); ``with_inputs`` says which ones the agent gets."""

    __slots__ = ("_fields", "_input_keys")

    def __init__(self, base: Optional[Mapping[str, Any]] = None, /, **fields: Any) -> None:
        merged: Dict[str, Any] = {}
        input_keys: Optional[Tuple[str, ...]] = None
        if isinstance(base, Example):
            merged.update(base._fields)
            input_keys = base._input_keys
        elif base is not None:
            if not isinstance(base, Mapping):
                raise TypeError(f"Example(base) takes a mapping or an Example, got {type(base).__name__}")
            merged.update(base)
        merged.update(fields)
        for key in merged:
            if not isinstance(key, str) or not key.isidentifier() or key.startswith("_"):
                raise ValueError(f"Example field names must be identifiers not starting with '_', got {key!r}")
        object.__setattr__(self, "_fields", merged)
        object.__setattr__(self, "_input_keys", input_keys)

    # -- which fields go in -------------------------------------------------------------------
    def with_inputs(self, *keys: str) -> "Example":
        """A copy whose inputs are ``keys`` (each must be a field)."""
        missing = [key for key in keys if key not in self._fields]
        if missing:
            raise KeyError(f"with_inputs: {', '.join(map(repr, missing))} not among the fields "
                           f"{sorted(self._fields)}")
        if not keys:
            raise ValueError("with_inputs needs at least one field name")
        copy = Example(self)
        object.__setattr__(copy, "_input_keys", tuple(keys))
        return copy

    @property
    def input_keys(self) -> Optional[Tuple[str, ...]]:
        return self._input_keys

    def inputs(self) -> "Example":
        """The input fields only (an error names the fix when none were marked)."""
        if self._input_keys is None:
            raise ValueError(f"this Example has no inputs marked: call .with_inputs(...) with some of "
                             f"{sorted(self._fields)}")
        return Example({key: self._fields[key] for key in self._input_keys}).with_inputs(*self._input_keys)

    def labels(self) -> "Example":
        """Every field that is not an input."""
        keys = set(self._input_keys or ())
        return Example({key: value for key, value in self._fields.items() if key not in keys})

    # -- a mapping and an object --------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        try:
            return self._fields[name]
        except KeyError:
            raise AttributeError(f"Example has no field {name!r} (fields: {sorted(self._fields)})") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __getitem__(self, key: str) -> Any:
        return self._fields[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(key, str) or not key.isidentifier() or key.startswith("_"):
            raise ValueError(f"Example field names must be identifiers not starting with '_', got {key!r}")
        self._fields[key] = value

    def __contains__(self, key: object) -> bool:
        return key in self._fields

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def keys(self):
        return self._fields.keys()

    def values(self):
        return self._fields.values()

    def items(self):
        return self._fields.items()

    def get(self, key: str, default: Any = None) -> Any:
        return self._fields.get(key, default)

    def copy(self, **changes: Any) -> "Example":
        return Example(self, **changes)

    def without(self, *keys: str) -> "Example":
        copy = Example({k: v for k, v in self._fields.items() if k not in keys})
        kept = tuple(k for k in (self._input_keys or ()) if k not in keys)
        return copy.with_inputs(*kept) if kept else copy

    def to_dict(self) -> Dict[str, Any]:
        return dict(self._fields)

    toDict = to_dict  # DSPy's spelling

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Example) and self._fields == other._fields

    def __hash__(self) -> int:
        return hash(tuple(sorted((k, repr(v)) for k, v in self._fields.items())))

    def __repr__(self) -> str:
        fields = ", ".join(f"{key}={value!r}" for key, value in self._fields.items())
        marked = f" (inputs: {', '.join(self._input_keys)})" if self._input_keys else ""
        return f"{type(self).__name__}({fields}){marked}"

    def __reduce__(self):  # pickles (Ray, process pools) with the inputs marked
        return _rebuild, (type(self), dict(self._fields), self._input_keys)


def _rebuild(cls: type, fields: Dict[str, Any], input_keys: Optional[Tuple[str, ...]]) -> "Example":
    row = cls(fields)
    object.__setattr__(row, "_input_keys", input_keys)
    return row


class Prediction(Example):
    """What an agent answered, as named fields: a plain answer is put under the label's name, so a
    metric reads ``pred.answer``; a one-field prediction also compares equal to its plain value."""

    __slots__ = ()

    @property
    def value(self) -> Any:
        """The one field's value (a prediction of several fields has none)."""
        if len(self) != 1:
            raise AttributeError(f"a Prediction of {len(self)} fields has no single value; read one of {sorted(self)}")
        return next(iter(self.values()))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Example):
            return self.to_dict() == other.to_dict()
        return len(self) == 1 and self.value == other

    __hash__ = Example.__hash__

    def __str__(self) -> str:
        return str(self.value) if len(self) == 1 else repr(self)
