"""The LLM layer: one client over litellm for every model call trace_opt makes.

Retries on transient provider errors, structured output into pydantic models with
re-asks, token and cost accounting, a budget checked before each call, an on-disk
response cache, sync and async, and an embedded local model when none is configured.
Importing this package does not import litellm or openai; the first call does.
It knows nothing of graphs or optimizers.
"""
from .accounts import Account, accounting
from .budget import Budget
from .cache import ResponseCache
from .client import LLM
from .errors import (BudgetExceeded, LLMError, LocalModelCrashed, LocalModelUnavailable, ModelNeverAnswered,
                     ModelUnreachable, ProviderError, ReplyError)
from .health import run_main
from .rollout_scope import rollout_scope
from .scripted import ScriptedLLM, ScriptExhausted
from .usage import Usage

__all__ = ["LLM", "Budget", "BudgetExceeded", "Usage", "accounting", "Account", "LLMError", "ReplyError",
           "ProviderError", "ModelUnreachable", "LocalModelUnavailable", "LocalModelCrashed", "ModelNeverAnswered",
           "ResponseCache", "rollout_scope", "run_main", "ScriptedLLM", "ScriptExhausted"]
