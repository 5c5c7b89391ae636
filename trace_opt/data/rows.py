"""Dataset rows in the shapes people bring: ``(input, target)``, ``{"input", "target"}`` dicts and
``Example`` rows with their inputs marked; each read once into one ``(input, target)`` pair.

For an ``Example`` the input is its one input field's value (the agent is called with it), or,
with several input fields, the inputs as an ``Example`` (the agent is called with them as keyword
arguments, DSPy's ``program(**example.inputs())``); the target is the whole row, so a
``(gold, pred, trace)`` metric gets it as ``gold`` and an ``(output, target)`` guide gets its one
label's value (``target_value``).
"""
from __future__ import annotations

from typing import Any, Iterator, Tuple

from .example import Example, Prediction


def as_pair(row: Any, which: str = "dataset") -> Tuple[Any, Any]:
    """The ``(input, target)`` of one row, or a TypeError naming the shapes accepted."""
    if isinstance(row, Example):
        if row.input_keys is None:
            raise TypeError(f"an Example {which} row needs its inputs marked: "
                            f"Example(...).with_inputs({', '.join(map(repr, sorted(row)))[:60]}...); got {row!r:.80}")
        keys = row.input_keys
        return (row[keys[0]] if len(keys) == 1 else row.inputs()), row
    if isinstance(row, dict) and {"input", "target"} <= row.keys():
        return row["input"], row["target"]
    if isinstance(row, (tuple, list)) and len(row) == 2:
        return row[0], row[1]
    raise TypeError(f"each {which} row must be (input, target), a dict with 'input' and 'target', or an "
                    f"Example with .with_inputs(...), got {row!r:.80}")


def target_value(target: Any) -> Any:
    """What an ``(output, target)`` guide compares with: an Example row's one label (its labels as
    an Example when it has several); any other target as it is."""
    if not isinstance(target, Example):
        return target
    labels = target.labels()
    return next(iter(labels.values())) if len(labels) == 1 else labels


def as_gold(target: Any) -> Example:
    """The ``gold`` a DSPy-style metric reads: the Example row, or a plain target as ``answer``."""
    return target if isinstance(target, Example) else Example(answer=target)


def as_prediction(output: Any, gold: Example) -> Prediction:
    """The agent's output as the ``pred`` a metric reads: fields of a dict or Example as they are, a
    plain answer under the label's name (``answer`` when the row has several labels or none)."""
    if isinstance(output, Prediction):
        return output
    if isinstance(output, Example) or (isinstance(output, dict) and all(isinstance(k, str) for k in output)):
        try:
            return Prediction(dict(output.items()))
        except ValueError:
            pass  # keys that are not field names: the dict is one answer
    labels = list(gold.labels())
    return Prediction({labels[0] if len(labels) == 1 else "answer": output})


def texts(value: Any) -> Iterator[str]:
    """The strings a row holds (its fields' too), for the guard against copying training data."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Example):
        for field in value.values():
            yield from texts(field)
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from texts(item)
