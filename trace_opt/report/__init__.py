"""Run reports: one self-contained HTML page per run (curves, cost, parameter diffs, last trace)."""
from .page import write_report

__all__ = ["write_report"]
