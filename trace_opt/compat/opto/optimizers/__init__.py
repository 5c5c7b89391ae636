"""Trace's ``opto.optimizers``: OptoPrime (Trace's shape), and trace_opt's OPRO and TextGrad."""
from ....optim.llm.opro import OPRO
from ....optim.llm.textgrad import TextGrad
from .optimizer import Optimizer
from .optoprime import OptoPrime



class OptoPrimeMulti(OptoPrime):
    """Trace's several-responses OptoPrime: trace_opt's ``num_candidates`` (default 3 here)."""

    def __init__(self, parameters, llm=None, *args, num_responses: int = 3, **kwargs):
        super().__init__(parameters, llm, *args, **kwargs)
        self.num_candidates = num_responses

__all__ = ["OPRO", "Optimizer", "OptoPrime", "OptoPrimeMulti", "TextGrad"]
