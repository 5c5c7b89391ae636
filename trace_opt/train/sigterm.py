"""Graceful SIGTERM for a training run: the step in flight finishes and is checkpointed first."""
from __future__ import annotations

import signal
import threading
from typing import Any


class GracefulSigterm:
    """While fit() runs in the main thread, SIGTERM (a scheduler or ``kill`` asking the run to end)
    only sets ``received``: the step in flight finishes and is checkpointed, then fit() stops.
    The handler that was there before comes back at once, so a second SIGTERM ends the process."""

    def __init__(self) -> None:
        self.received = False
        self.previous: Any = None
        self.installed = False

    def __enter__(self) -> "GracefulSigterm":
        if threading.current_thread() is threading.main_thread():  # only it may set handlers
            self.previous = signal.signal(signal.SIGTERM, self._handle)
            self.installed = True
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.received = True
        self._restore()

    def _restore(self) -> None:
        # None: a handler set outside Python; the default is the closest we can put back
        signal.signal(signal.SIGTERM, self.previous if self.previous is not None else signal.SIG_DFL)

    def __exit__(self, *exc: Any) -> None:
        if self.installed:
            self._restore()
