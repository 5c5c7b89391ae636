"""Microsoft Trace's ``opto`` package, answered by trace_opt (see trace_opt.compat)."""
from . import optimizers, trace, utils

__all__ = ["optimizers", "trace", "utils"]
