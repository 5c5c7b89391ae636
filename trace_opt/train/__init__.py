"""Training loops: a Trainer over datasets, a ParetoSearch over candidates, guides that judge outputs, checkpoints and event logs."""
from .compile import compile
from .events import EventLog, read_events
from .guide import Guide, LLMJudge, Metric, as_guide
from .pareto_search import ParetoSearch, SearchResult
from .trainer import Trainer, TrainResult

__all__ = ["EventLog", "Guide", "LLMJudge", "Metric", "compile", "ParetoSearch", "SearchResult", "Trainer", "TrainResult", "as_guide",
           "read_events"]
