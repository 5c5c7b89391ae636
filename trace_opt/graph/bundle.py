"""bundle: a Python function becomes one traced operation.

Nodes go in, the function runs on their plain values (with tracing off inside, so it is
one atomic step of the graph), and a MessageNode comes out whose description is the
function's docstring. With ``trainable=True`` the function's source is a code Parameter:
an optimizer may rewrite it, and the new code is compiled the next time it is called.
"""
from __future__ import annotations

import ast
import functools
import hashlib
import inspect
import linecache
import textwrap
from typing import Any, Callable, Dict, List, Optional, Tuple

from .context import _tracing
from .errors import TraceExecutionError, stops_run
from .kinds import parse_function
from .nodes import ExceptionNode, MessageNode, Node, Parameter, error_type

_CODE_KEY = "_trace_opt_code_"


def bundle(fn: Optional[Callable] = None, *, trainable: bool = False, catch_exceptions: bool = True,
           description: Optional[str] = None, name: Optional[str] = None) -> Any:
    """Decorator: ``@bundle()``, ``@bundle`` or ``bundle(trainable=True)(fn)``."""
    options = dict(trainable=trainable, catch_exceptions=catch_exceptions, description=description, name=name)
    if fn is None:
        return lambda f: Bundle(f, **options)
    return Bundle(fn, **options)


class Bundle:
    """A function that records one MessageNode per call. Used on a method, each instance
    gets its own code parameter (when trainable)."""

    def __init__(self, fn: Callable, *, trainable: bool = False, catch_exceptions: bool = True,
                 description: Optional[str] = None, name: Optional[str] = None) -> None:
        if not callable(fn) or isinstance(fn, (Node, type)):
            raise TypeError(f"bundle() needs a function as fn, got {type(fn).__name__}: {fn!r:.60}")
        if inspect.iscoroutinefunction(fn):
            raise TypeError(f"bundle() takes plain functions; {fn.__name__} is async (await it inside a plain function)")
        self.fn = fn
        self.name = name or getattr(fn, "__name__", type(fn).__name__)
        self.description = description if description is not None else (inspect.getdoc(fn) or "")
        self.signature = inspect.signature(fn)
        self.trainable = bool(trainable)
        self.catch_exceptions = bool(catch_exceptions)
        self.source = _function_source(fn) if self.trainable else None
        self._own_code: Optional[_CodeSlot] = None
        functools.update_wrapper(self, fn)

    def __repr__(self) -> str:
        return f"<trace_opt bundle {self.name}{' (trainable)' if self.trainable else ''}>"

    # -- binding to instances ------------------------------------------------------------
    def __get__(self, instance: Any, owner: Any = None) -> Any:
        return self if instance is None else BoundBundle(self, instance)

    def __call__(self, *args: Any, **kwargs: Any) -> Node:
        return self.run(None, args, kwargs)

    @property
    def parameter(self) -> Optional[Parameter]:
        """The code parameter of a function bundle (None unless trainable)."""
        return self.code_parameter(None)

    def code_parameter(self, instance: Any) -> Optional[Parameter]:
        slot = self._slot(instance)
        return slot.parameter if slot else None

    def _slot(self, instance: Any) -> Optional["_CodeSlot"]:
        if not self.trainable:
            return None
        if instance is None:
            if self._own_code is None:
                self._own_code = _CodeSlot(self, bound=False)
            return self._own_code
        try:
            store = instance.__dict__
        except AttributeError:
            raise TypeError(f"a trainable method bundle needs instances with a __dict__; {type(instance).__name__} has none") from None
        key = _CODE_KEY + self.name
        slot = store.get(key)
        if slot is None:
            slot = store[key] = _CodeSlot(self, bound=True)
        return slot

    # -- running -----------------------------------------------------------------------
    def run(self, instance: Any, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Node:
        """Call the current code on the inputs' values and record the call."""
        slot = self._slot(instance)
        fn = slot.function() if slot else self.fn
        call_args = (instance,) + args if instance is not None else args
        try:
            bound = self.signature.bind(*call_args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{self.name}(): {exc}") from None
        parents: List[Node] = []
        names: List[str] = []
        skip_first = instance is not None
        for arg_name, value in bound.arguments.items():
            if skip_first:
                skip_first = False
                continue
            kind = self.signature.parameters[arg_name].kind
            if kind is inspect.Parameter.VAR_POSITIONAL:
                bound.arguments[arg_name] = tuple(_take(f"{arg_name}[{i}]", v, parents, names) for i, v in enumerate(value))
            elif kind is inspect.Parameter.VAR_KEYWORD:
                bound.arguments[arg_name] = {k: _take(k, v, parents, names) for k, v in value.items()}
            else:
                bound.arguments[arg_name] = _take(arg_name, value, parents, names)
        if slot is not None:
            parents.append(slot.parameter)
            names.append("__code")
        op = self if instance is None else BoundBundle(self, instance)  # the instance, for re-running a call
        tracing = _tracing.get()
        token = _tracing.set(False)
        try:
            result = fn(*bound.args, **bound.kwargs)
        except Exception as exc:
            if not self.catch_exceptions or stops_run(exc):
                raise
            err = ExceptionNode(exc, op, tuple(parents) if tracing else (), tuple(names))
            raise TraceExecutionError(self._failure_message(exc, fn), err) from exc
        finally:
            _tracing.reset(token)
        if isinstance(result, Node):
            result = result.data
        if not tracing:
            return Node(result, self.name)
        return MessageNode(result, op, tuple(parents), tuple(names))

    def input_names(self, count: int) -> Tuple[str, ...]:
        return tuple(f"args[{i}]" for i in range(count))

    def _failure_message(self, exc: Exception, fn: Callable) -> str:
        message = f"{self.name} raised {error_type(exc)}: {exc}"
        code = getattr(fn, "__code__", None)
        line_no, tb = None, exc.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code is code:
                line_no = tb.tb_lineno
            tb = tb.tb_next
        if line_no is not None:
            line = linecache.getline(code.co_filename, line_no).strip()
            message += f"\n  failing line {line_no} of {self.name}: {line}"
        return message

    def closure_values(self) -> Dict[str, Any]:
        """The free variables the original function closes over: new versions see them too."""
        try:
            return dict(inspect.getclosurevars(self.fn).nonlocals)
        except TypeError:  # not a Python function: no closure to carry over
            return {}

    def code_filename(self, source: str) -> str:
        """The file name a version's lines carry in tracebacks (and linecache)."""
        filename = f"<trace_opt code {self.name} {hashlib.sha1(source.encode()).hexdigest()[:10]}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        return filename

    def compile(self, source: str) -> Callable:
        """Compile a new version of this function in this process (trusted code only: the user's
        own, or an optimizer's under ``trusted=True``); its own imports stay in its namespace."""
        fdef = parse_function(source, f"the code of {self.name}")
        namespace = _CandidateGlobals(getattr(self.fn, "__globals__", {}))
        namespace.update(self.closure_values())
        exec(compile(source, self.code_filename(source), "exec"), namespace)  # noqa: S102 - trusted code only
        return namespace[fdef.name]


class BoundBundle:
    """A method bundle bound to one instance (what ``instance.method`` returns)."""

    __slots__ = ("bundle", "instance")

    def __init__(self, bundle: Bundle, instance: Any) -> None:
        self.bundle = bundle
        self.instance = instance

    def __call__(self, *args: Any, **kwargs: Any) -> Node:
        return self.bundle.run(self.instance, args, kwargs)

    @property
    def parameter(self) -> Optional[Parameter]:
        """This instance's code parameter (None unless the bundle is trainable)."""
        return self.bundle.code_parameter(self.instance)

    def __getattr__(self, name: str) -> Any:
        if name in BoundBundle.__slots__ or name.startswith("__"):  # unset while unpickling: no delegation
            raise AttributeError(name)
        return getattr(self.bundle, name)


class _CodeSlot:
    """A code parameter and the function compiled from its current source."""

    __slots__ = ("bundle", "bound", "parameter", "source", "compiled", "runner")

    def __init__(self, bundle: Bundle, bound: bool) -> None:
        self.bundle, self.bound = bundle, bound
        doc = f" {bundle.description}" if bundle.description else ""
        self.parameter = Parameter(bundle.source, bundle.name, kind="code",
                                   description=f"The code of the function {bundle.name}.{doc}")
        self.source = bundle.source
        self.compiled = bundle.fn
        self.runner = None

    def function(self) -> Callable:
        """The function of the current source: the original (the user's own, in this process), or
        a version run by the parameter's ``code_runner`` (isolated workers; None: compiled here),
        rebuilt when the source or the runner change."""
        current, runner = self.parameter.data, self.parameter.code_runner
        if current is not self.source or runner is not self.runner:
            if current != self.source or runner != self.runner:
                if current == self.bundle.source:
                    self.compiled = self.bundle.fn
                elif runner is None:
                    self.compiled = self.bundle.compile(current)
                else:
                    self.compiled = runner.compile(self.bundle, current, self.bound, self.bundle.code_filename(current))
            self.source, self.runner = current, runner
        return self.compiled


class _CandidateGlobals(dict):
    """Globals of recompiled code: its own names first, then the defining module's, read live."""

    def __init__(self, module_globals: Dict[str, Any]) -> None:
        super().__init__()
        self.module_globals = module_globals

    def __missing__(self, key: str) -> Any:
        return self.module_globals[key]


def _take(name: str, value: Any, parents: List[Node], names: List[str]) -> Any:
    """Record an argument as a parent and return the plain value the function receives.
    A list, tuple or dict holding nodes is unwrapped one level, each node a parent."""
    if isinstance(value, Node):
        parents.append(value)
        names.append(name)
        return value.data
    if isinstance(value, (list, tuple)) and any(isinstance(v, Node) for v in value):
        items = [_take(f"{name}[{i}]", v, parents, names) for i, v in enumerate(value)]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, dict) and any(isinstance(v, Node) for v in value.values()):
        return {k: _take(f"{name}[{k!r}]", v, parents, names) for k, v in value.items()}
    parents.append(Node(value, name))
    names.append(name)
    return value


def _function_source(fn: Callable) -> str:
    """The function's own source, dedented and without decorators: what an optimizer edits."""
    if getattr(fn, "__name__", "") == "<lambda>":
        raise ValueError("bundle(trainable=True) cannot train a lambda: its code is not a standalone function; define it with def")
    try:
        source = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError) as exc:
        raise ValueError(f"bundle(trainable=True) needs the source of {getattr(fn, '__name__', fn)!r}: {exc}") from None
    fdef = next(n for n in ast.parse(source).body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))
    return "".join(source.splitlines(True)[fdef.lineno - 1:])
