"""Backward: feedback about an output reaches every parameter that influenced it.

Trace copies the whole upstream subgraph at every node on the way back (quadratic).
Here backward is one walk over the output's ancestors that leaves, on each trainable
parameter reached, a reference to the output and the feedback; the optimizer later
extracts the subgraph it needs once per step.
"""
from __future__ import annotations

from typing import Any, Optional

from .feedback import Feedback, FeedbackRecord
from .kinds import is_tensor
from .nodes import Node
from .traversal import ancestors


class Propagator:
    """Decides what backward() leaves on the graph; pass one as ``backward(..., propagator=)``."""

    def propagate(self, output: Node, feedback: Feedback) -> None:
        raise NotImplementedError


class RecordingPropagator(Propagator):
    """The default: each trainable parameter reached gets a FeedbackRecord(parameter, output, feedback)."""

    def propagate(self, output: Node, feedback: Feedback) -> None:
        for reached in ancestors(output):
            if reached.trainable:
                reached.feedback.append(FeedbackRecord(reached, output, feedback))


_DEFAULT = RecordingPropagator()


def backward(output: Node, feedback: Any = None, *, propagator: Optional[Propagator] = None) -> None:
    """Propagate feedback from ``output``. Calls accumulate until the optimizer's zero_feedback().

    When the output holds a scalar torch tensor that requires grad, torch autograd runs too
    (tensor parameters get ``.grad``) and omitted feedback is ``str(output)``; for an output that is
    not a tensor it is empty text (the parameters learn they were used, as in Trace).
    """
    if not isinstance(output, Node):
        raise TypeError(f"backward() needs a Node as output, got {type(output).__name__}")
    if propagator is not None and not isinstance(propagator, Propagator):
        raise TypeError(f"propagator must be a trace_opt Propagator, got {type(propagator).__name__}")
    data = output.data
    runs_autograd = is_tensor(data) and data.requires_grad and data.numel() == 1
    if feedback is None:  # a scalar loss speaks for itself; a non-tensor marks the paths, saying nothing
        if is_tensor(data) and not runs_autograd:  # silence here would look like gradients that never came
            raise TypeError("backward() needs feedback (a str, a number or Feedback) for a tensor output unless "
                            "it is a scalar tensor that requires grad")
        feedback = str(output) if runs_autograd else ""
    fb = Feedback.coerce(feedback)
    if runs_autograd:
        data.backward(retain_graph=True)
    (propagator or _DEFAULT).propagate(output, fb)
