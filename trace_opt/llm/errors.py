"""The LLM layer's exceptions, and the redaction that keeps secrets out of their messages.

Every error a caller may want to handle derives from `LLMError`, so an optimizer can skip
a step on any of them while still telling a budget stop (`BudgetExceeded`) apart.
"""
from __future__ import annotations

from typing import Optional

from .redaction import environment_secrets, holds_secret, redact  # noqa: F401 - re-exported: the layer's one place


def truncate(text: str, limit: int = 500) -> str:
    """At most `limit` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... [{len(text) - limit} more characters]"


class LLMError(Exception):
    """Base class of every error raised by trace_opt.llm."""


class BudgetExceeded(LLMError):
    """Raised before a call that would pass a `Budget` limit; nothing was sent. Like a model that
    cannot answer, it is no feedback: traced operations let it through (``stops_run``) and a
    training run ends cleanly at it."""

    stops_run = True

    def __init__(self, limit: str, maximum: float, spent: float, estimate: float = 0.0):
        self.limit, self.maximum, self.spent, self.estimate = limit, maximum, spent, estimate
        fmt = (lambda v: f"${v:.6f}") if limit == "max_usd" else (lambda v: f"{v:g}")
        if estimate:
            detail = f"{fmt(spent)} spent + {fmt(estimate)} estimated for this call would pass it"
        else:
            detail = f"{fmt(spent)} already spent"
        super().__init__(f"budget exceeded: {limit}={fmt(maximum)}; {detail}")


class ProviderError(LLMError):
    """The provider failed: a non-transient error, or a transient one that outlived the retries."""

    def __init__(self, model: str, status: Optional[int], reason: str, retries: int = 0,
                 kind: str = "error"):
        self.model, self.status, self.reason, self.retries, self.kind = model, status, reason, retries, kind
        status_text = f"HTTP {status}" if status is not None else "no HTTP status"
        after = f" after {retries} {'retry' if retries == 1 else 'retries'}" if retries else ""
        super().__init__(f"{model}: {kind} ({status_text}){after}: {reason}")


class ReplyError(LLMError):
    """The model's replies stayed unusable (not JSON, wrong shape, empty) after every re-ask."""

    def __init__(self, model: str, error: str, reply: Optional[str], attempts: int):
        self.model, self.error, self.reply, self.attempts = model, error, reply, attempts
        shown = truncate(reply or "", 300)
        super().__init__(f"{model}: unusable reply after {attempts} "
                         f"{'attempt' if attempts == 1 else 'attempts'}: {error}; last reply: {shown!r}")


class ModelUnreachable(LLMError):
    """The model cannot answer at all (not: this reply was bad). Nothing a step or a workflow did
    caused it and no retry of the step helps, so it is never feedback or a skipped step: traced
    operations let it through (``stops_run``), optimizers re-raise it, a training run ends with it."""

    stops_run = True


class LocalModelUnavailable(ModelUnreachable):
    """No model is configured and the embedded local model server cannot be started."""


class LocalModelCrashed(ModelUnreachable):
    """The embedded model server died (a signal or an exit code) and restarting it did not help."""

    def __init__(self, message: str, *, signal_name: Optional[str], exit_code: Optional[int],
                 log_path: Optional[str], restarts: int):
        self.signal_name, self.exit_code, self.log_path, self.restarts = signal_name, exit_code, log_path, restarts
        super().__init__(message)


class ModelNeverAnswered(ModelUnreachable):
    """A run finished without a single reply from the model: its numbers are not a result."""
