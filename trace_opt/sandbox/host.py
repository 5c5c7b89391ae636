"""Builtins for accepted code that runs in the training process.

A candidate passed the static policy and its trial, but it may behave in the trial and
misbehave later. Code an optimizer installed therefore keeps the policy's limits at run time
too: the forbidden builtins are gone, `import` takes only allowed modules, and `open` is
refused (the trial allowed no file outside its temp dir either) unless the policy allows
writing. The user's own functions keep the real builtins. Everything here pickles, so an
agent holding such code still travels to other processes (Ray).
"""
from __future__ import annotations

import builtins
import functools

from .policy import Policy


class GuardedImport:
    """`__import__` that takes only the modules a policy allows."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def __call__(self, name, globals=None, locals=None, fromlist=(), level=0):
        if level or not self.policy.allows_module(name):
            raise ImportError(f"imported {name}, not allowed in proposed code (widen the code policy to allow it)")
        return builtins.__import__(name, globals, locals, fromlist, level)


def refused_open(*args, **kwargs):
    raise PermissionError("open is not allowed in proposed code (widen the code policy with allow_write=True)")


@functools.lru_cache(maxsize=16)
def host_builtins(policy: Policy) -> dict:
    """The builtins mapping installed code runs with under `policy` (one per policy, shared)."""
    safe = {k: v for k, v in vars(builtins).items() if k not in policy.forbidden_names}
    safe["__import__"] = GuardedImport(policy)
    safe["open"] = builtins.open if policy.allow_write else refused_open
    return safe
