"""Trace's propagators: both record, on every parameter reached, the output and its feedback
(the linking graph is computed when read: ``record.graph``), which is what either one offers."""
from .....graph.backward import Propagator, RecordingPropagator


class GraphPropagator(RecordingPropagator):
    """Trace's GraphPropagator: feedback as the graph linking parameter and output."""


class SumPropagator(RecordingPropagator):
    """Trace's SumPropagator: feedback texts (``str(record)`` of each record holds one)."""


__all__ = ["GraphPropagator", "Propagator", "SumPropagator"]
