"""Code an optimizer installed runs in isolated workers; this is what it sees of the host.

A code parameter whose ``code_runner`` is an `IsolatedCode` compiles each new version into a
function that calls the sandbox's workers (never this process). What crosses is plain data:

- the arguments of the call, by value;
- globals and closure values the code names: plain data by value (as they were when the
  version was installed), allowed modules by name (the worker imports its own), and the
  module's traced functions (``@bundle``) as calls back to the host;
- for a method, ``self`` is a snapshot of the instance's public plain-data attributes
  (parameters by their value) and its traced methods as calls back to the host. Writing to
  ``self`` changes the snapshot only; private (``_``) and credential-looking names never cross.

Anything else the code names is a clear NameError / AttributeError in the worker.
"""
from __future__ import annotations

import ast
import dataclasses
import re
import threading
import types
from typing import Any, Callable, Dict

from ..sandbox import DEFAULT_POLICY, CandidateRaised, IsolatedFunction, Policy, Surface
from ..sandbox.secret_names import looks_like_secret
from ..sandbox.wire import encode
from .kinds import parse_function
from .nodes import Node

MAX_CONSTANT_BYTES = 256 * 1024  # one global or attribute, encoded; bigger ones stay home
MAX_CALLBACK_DEPTH = 8           # isolated code calling traced code calling isolated code ...
_depth = threading.local()


class IsolatedCodeError(Exception):
    """Isolated code failed: it raised, ran out of time or memory, or its worker misbehaved.
    ``error_type`` is the name of what the code raised there ("IndexError"), so feedback reads
    as it would for code run in this process."""

    def __init__(self, text: str) -> None:
        match = _RAISED.match(text)
        self.error_type = match.group(1) if match else type(self).__name__
        super().__init__(match.group(2) if match else text)


_RAISED = re.compile(r"^([A-Za-z_]\w*(?:Error|Exception|Exit|Interrupt|Warning|Iteration)): (.*)$", re.DOTALL)


class IsolatedCode:
    """Runs versions of code parameters in isolated workers under `policy` and these limits."""

    def __init__(self, policy: Policy = DEFAULT_POLICY, timeout: float = 10.0, memory_mb: int = 1024) -> None:
        self.policy, self.timeout, self.memory_mb = policy, float(timeout), int(memory_mb)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IsolatedCode) and (self.policy, self.timeout, self.memory_mb) == \
            (other.policy, other.timeout, other.memory_mb)

    def __hash__(self) -> int:
        return hash((self.policy, self.timeout, self.memory_mb))

    def __repr__(self) -> str:
        return f"IsolatedCode(timeout={self.timeout:g}, memory_mb={self.memory_mb})"

    def compile(self, bundle: Any, source: str, bound: bool, filename: str) -> Callable:
        """A callable with the bundle's signature that runs `source` isolated; `bound`: the first
        argument is the instance (a method)."""
        fdef = parse_function(source, f"the code of {bundle.name}")
        surface, callbacks = _surface(bundle, source, self.policy)
        function = IsolatedFunction(source, fdef.name, self.policy, self.timeout, self.memory_mb,
                                    surface, filename=filename)

        def call_isolated(*args: Any, **kwargs: Any) -> Any:
            instance, view = (args[0], instance_view(args[0])) if bound else (None, None)
            if bound:
                args = args[1:]
            depth = getattr(_depth, "value", 0)
            if depth >= MAX_CALLBACK_DEPTH:
                raise IsolatedCodeError(f"isolated code called back into isolated code {depth} levels deep")
            _depth.value = depth + 1
            try:
                result = function.call(args, kwargs, view, _callbacks(instance, callbacks))
            except CandidateRaised as exc:
                raise IsolatedCodeError(str(exc)) from None
            except Exception as exc:  # CallFailed: a timeout, a dead or lying worker
                raise IsolatedCodeError(str(exc)) from None
            finally:
                _depth.value = depth
            if not result["ok"]:
                raise IsolatedCodeError(result.get("error") or "failed")
            return result["value"]

        call_isolated.__name__ = fdef.name
        return call_isolated


def _callbacks(instance: Any, functions: Dict[str, Any]) -> Callable:
    def on_callback(target: str, name: str, args: list, kwargs: dict) -> Any:
        if target == "self":
            if instance is None or name not in traced_methods(type(instance)):
                raise PermissionError(f"self.{name} is not a traced method")
            result = getattr(instance, name)(*args, **kwargs)
        else:
            if name not in functions:
                raise PermissionError(f"{name} is not a traced function this code may call")
            result = functions[name](*args, **kwargs)
        return result._data if isinstance(result, Node) else result
    return on_callback


def traced_methods(cls: type) -> Dict[str, Any]:
    """The class's @bundle methods by name (what isolated code may call back on its instance)."""
    from .bundle import Bundle
    found: Dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        found.update({k: v for k, v in vars(klass).items() if isinstance(v, Bundle)})
    return found


def _encoded(value: Any) -> Any:
    """`value` encoded for the wire, or _NOT_PLAIN when it is not plain data or too big to send."""
    try:
        encoded = encode(value)
    except (TypeError, ValueError, RecursionError):
        return _NOT_PLAIN
    return encoded if len(repr(encoded)) <= MAX_CONSTANT_BYTES else _NOT_PLAIN


_NOT_PLAIN = object()


def instance_view(instance: Any) -> Dict[str, Any]:
    """The snapshot of `instance` a method's isolated code gets as ``self``."""
    attributes, unavailable = {}, {}
    for name, value in getattr(instance, "__dict__", {}).items():
        if name.startswith("_"):
            continue
        value = value._data if isinstance(value, Node) else value
        if looks_like_secret(name):
            unavailable[name] = "value whose name looks like a credential"
            continue
        encoded = _encoded(value)  # once: the snapshot is built at every call
        if encoded is _NOT_PLAIN:
            unavailable[name] = type(value).__name__
        else:
            attributes[name] = encoded
    return {"attributes": attributes, "methods": sorted(traced_methods(type(instance))),
            "unavailable": unavailable}


def _surface(bundle: Any, source: str, policy: Policy):
    """What the code's free names are, as a `Surface`, and the traced functions it may call."""
    from .bundle import Bundle
    names = {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name)}
    scope = {**getattr(bundle.fn, "__globals__", {}), **bundle.closure_values()}
    surface, functions = Surface(), {}
    for name in sorted(names & set(scope)):
        value = scope[name]
        if isinstance(value, Bundle):
            functions[name] = value
        elif isinstance(value, types.ModuleType):
            if policy.allows_module(value.__name__):
                surface.modules[name] = value.__name__
            else:
                surface.unavailable[name] = f"module {value.__name__}, not allowed by the code policy"
        elif looks_like_secret(name):
            surface.unavailable[name] = "value whose name looks like a credential"
        elif _encoded(value) is not _NOT_PLAIN:
            surface.constants[name] = value
        else:
            surface.unavailable[name] = type(value).__name__
    surface.callbacks = tuple(sorted(functions))
    return surface, functions



def runner_to_json(runner: Any) -> Dict[str, Any]:
    """How a module file records that a code parameter runs isolated (policy and limits)."""
    if not isinstance(runner, IsolatedCode):
        raise TypeError(f"cannot save a code runner of type {type(runner).__name__}")
    policy = {f.name: sorted(v) if isinstance(v, frozenset) else v
              for f in dataclasses.fields(runner.policy) for v in [getattr(runner.policy, f.name)]}
    return {"isolated": True, "timeout": runner.timeout, "memory_mb": runner.memory_mb, "policy": policy}


def runner_from_json(data: Any) -> IsolatedCode:
    """The runner a module file recorded; ValueError for one that is not well formed."""
    try:
        known = {f.name: f for f in dataclasses.fields(Policy)}
        fields = {k: frozenset(v) if isinstance(getattr(DEFAULT_POLICY, k), frozenset) else v
                  for k, v in dict(data["policy"]).items() if k in known}
        return IsolatedCode(Policy(**fields), float(data["timeout"]), int(data["memory_mb"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"a code parameter's runner in the file is malformed: {exc}") from None
