"""Training loops: a Trainer over datasets, guides that judge outputs, checkpoints and event logs."""
from .events import EventLog, read_events
from .guide import Guide, LLMJudge, as_guide
from .trainer import Trainer, TrainResult

__all__ = ["EventLog", "Guide", "LLMJudge", "Trainer", "TrainResult", "as_guide", "read_events"]
