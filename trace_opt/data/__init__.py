"""Dataset rows: ``Example`` (named fields, inputs marked) and reading any row into (input, target).

Imports nothing of trace_opt, so every layer above (optimizers, trainers) reads rows the same way.
"""
from .example import Example, Prediction
from .rows import as_gold, as_pair, as_prediction, target_value, texts

__all__ = ["Example", "Prediction", "as_gold", "as_pair", "as_prediction", "target_value", "texts"]
