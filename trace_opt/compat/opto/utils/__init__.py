"""Trace's ``opto.utils``."""
from . import llm  # noqa: F401

__all__ = ["llm"]
