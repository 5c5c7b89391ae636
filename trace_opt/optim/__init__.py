"""Optimizers: LLM optimizers for text and code, numeric ones for tensors, search for settings.

Names load on first use, so ``import trace_opt`` never imports torch or litellm.
"""
from importlib import import_module
from typing import Any

from .base import Optimizer, satisfies_contract
from .report import StepReport

# public name -> module that defines it
_LAZY = {
    # LLM optimizers (text, code, json, numbers and choices through an LLM)
    "OptoPrime": ".llm.optoprime",
    "TextGrad": ".llm.textgrad",
    "OPRO": ".llm.opro",
    "CodeTrial": ".llm.code_check",
    # numeric optimizers over torch tensors
    "SGD": ".numeric.torch_optimizers",
    "Adam": ".numeric.torch_optimizers",
    "AdamW": ".numeric.torch_optimizers",
    "Lion": ".numeric.lion",
    "Sophia": ".numeric.sophia",
    "Muon": ".numeric.muon",
    "NonFiniteGradientWarning": ".numeric._params",
    # derivative-free search over numbers and choices
    "SPSA": ".search.spsa",
    "RankingZO": ".search.ranking_zo",
    "ChoiceSearch": ".search.choice_search",
    "RandomSearch": ".search.random_search",
    "OptunaSearch": ".search.optuna_search",
    "LLMWarmStartSearch": ".search.llm_warm_start",
    # demonstrations for to.Demos parameters, from well-scored traces and labelled rows
    "BootstrapFewShot": ".search.few_shot",
    "MIPRO": ".search.joint",
    # one optimizer over many, routing each parameter by kind
    "CompositeOptimizer": ".composite",
    "auto": ".composite",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'trace_opt.optim' has no attribute {name!r}")


__all__ = ["Optimizer", "StepReport", "satisfies_contract", *_LAZY]
