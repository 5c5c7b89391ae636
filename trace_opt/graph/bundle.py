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
import warnings
from contextvars import ContextVar
from typing import Any, Callable, Dict, List, NoReturn, Optional, Tuple

from . import containers
from .context import _reads, _tracing
from .errors import TraceExecutionError, TraceMissingInputsError, TraceMissingInputsWarning, stops_run
from .kinds import parse_function
from . import files
from .nodes import ExceptionNode, MessageNode, Node, Parameter, error_type

_CODE_KEY = "_trace_opt_code_"
EXTERNAL = "external:"  # the input name of a node the code read without being given it


def bundle(fn: Optional[Callable] = None, *, trainable: bool = False, catch_exceptions: bool = True,
           description: Optional[str] = None, name: Optional[str] = None, traceable_code: bool = False,
           allow_external_dependencies: bool = False, missing_inputs: str = "link",
           overwrite_python_recursion: bool = False) -> Any:
    """Decorator: ``@bundle()``, ``@bundle`` or ``bundle(trainable=True)(fn)``.

    ``traceable_code=True`` traces the operations inside as a sub-graph (the code receives nodes;
    feedback reaches the parameters it uses, ``out.info["output"]`` is the inner result).
    A node the code reads but was not given becomes an input (``external:<name>``) with a warning,
    so feedback reaches it; ``missing_inputs="error"`` raises TraceMissingInputsError instead, and
    ``allow_external_dependencies=True`` only lists it in ``out.info["external_dependencies"]``.
    ``overwrite_python_recursion=True``: the function's calls of itself run the plain function."""
    options = dict(trainable=trainable, catch_exceptions=catch_exceptions, description=description, name=name,
                   traceable_code=traceable_code, allow_external_dependencies=allow_external_dependencies,
                   missing_inputs=missing_inputs, overwrite_python_recursion=overwrite_python_recursion)
    if fn is None:
        return lambda f: Bundle(f, **options)
    return Bundle(fn, **options)


class Bundle:
    """A function that records one MessageNode per call. Used on a method, each instance
    gets its own code parameter (when trainable)."""

    def __init__(self, fn: Callable, *, trainable: bool = False, catch_exceptions: bool = True,
                 description: Optional[str] = None, name: Optional[str] = None, traceable_code: bool = False,
                 allow_external_dependencies: bool = False, missing_inputs: str = "link",
                 overwrite_python_recursion: bool = False) -> None:
        if missing_inputs not in ("link", "error"):
            raise ValueError(f"missing_inputs must be 'link' or 'error', got {missing_inputs!r}")
        self.missing_inputs = missing_inputs
        # With overwrite_python_recursion, a call made while this bundle runs is the plain function.
        self._inside: Optional[ContextVar] = (ContextVar(f"trace_opt_inside_{id(self)}", default=False)
                                              if overwrite_python_recursion else None)
        if not callable(fn) or isinstance(fn, (Node, type)):
            raise TypeError(f"bundle() needs a function as fn, got {type(fn).__name__}: {fn!r:.60}")
        self.fn = fn
        self.is_async = inspect.iscoroutinefunction(fn)
        self.traceable_code = bool(traceable_code)
        self.allow_external_dependencies = bool(allow_external_dependencies)
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

    # -- a bundled function is a small module: its code is its one parameter ---------------
    def named_parameters(self) -> List[Tuple[str, Parameter]]:
        return [(self.name, self.parameter)] if self.trainable else []

    def parameters(self) -> List[Parameter]:
        return [p for _, p in self.named_parameters()]

    def save(self, path: Any) -> Any:
        """Write the current code to a module file (as ``Module.save`` does)."""
        return files.save_parameters(dict(self.named_parameters()), path, f"bundle {self.name}")

    def load(self, path: Any) -> None:
        """Load code written by ``save`` into this bundle's parameter, in place."""
        files.load_parameters(dict(self.named_parameters()), path, f"bundle {self.name}")

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
    def run(self, instance: Any, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
        """Call the current code on the inputs' values and record the call (an awaitable that
        does so, for an ``async def``)."""
        if self.is_async:
            return self._run_async(instance, args, kwargs)
        if self._inside is not None and self._inside.get():  # a recursive call: the plain function
            return self.fn(*((instance,) if instance is not None else ()), *containers.to_data(args),
                           **containers.to_data(kwargs))
        call = self._prepare(instance, args, kwargs)
        self._enter(call)
        try:
            result = call.fn(*call.arguments.args, **call.arguments.kwargs)
        except Exception as exc:
            self._fail(call, exc)
        finally:
            self._leave(call)
        return self._record(call, result)

    async def _run_async(self, instance: Any, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Node:
        call = self._prepare(instance, args, kwargs)
        self._enter(call)
        try:
            result = call.fn(*call.arguments.args, **call.arguments.kwargs)
            if inspect.isawaitable(result):  # a version run in an isolated worker answers with the value
                result = await result
        except Exception as exc:
            self._fail(call, exc)
        finally:
            self._leave(call)
        return self._record(call, result)

    def _enter(self, call: "_Call") -> None:
        """Set the switches the code runs under. They are this thread's or asyncio task's alone (a
        coroutine runs in its caller's task, or its own under gather), so concurrent calls do not
        see each other's."""
        call.tokens = (_tracing.set(call.tracing and self.traceable_code), _reads.set(call.reads),
                       self._inside.set(True) if self._inside is not None else None)

    def _leave(self, call: "_Call") -> None:
        tracing_token, reads_token, inside_token = call.tokens
        if inside_token is not None:
            self._inside.reset(inside_token)
        _reads.reset(reads_token)
        _tracing.reset(tracing_token)

    def _prepare(self, instance: Any, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> "_Call":
        """Bind the arguments, record each input as a parent, and find the current code."""
        slot = self._slot(instance)
        call_args = (instance,) + args if instance is not None else args
        try:
            bound = self.signature.bind(*call_args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{self.name}(): {exc}") from None
        parents: List[Node] = []
        names: List[str] = []
        take = _keep_node if self.traceable_code else containers.take
        skip_first = instance is not None
        for arg_name, value in bound.arguments.items():
            if skip_first:
                skip_first = False
                continue
            kind = self.signature.parameters[arg_name].kind
            if kind is inspect.Parameter.VAR_POSITIONAL:
                bound.arguments[arg_name] = tuple(take(f"{arg_name}[{i}]", v, parents, names) for i, v in enumerate(value))
            elif kind is inspect.Parameter.VAR_KEYWORD:
                bound.arguments[arg_name] = {k: take(k, v, parents, names) for k, v in value.items()}
            else:
                bound.arguments[arg_name] = take(arg_name, value, parents, names)
        if slot is not None:
            parents.append(slot.parameter)
            names.append("__code")
        op = self if instance is None else BoundBundle(self, instance)  # the instance, for re-running a call
        tracing = _tracing.get()
        reads = [] if tracing and not self.traceable_code else None
        call = _Call(op, self.fn, bound, parents, names, tracing, reads)
        if slot is not None:
            try:
                call.fn = slot.function()
            except Exception as exc:  # the current code does not compile: the call fails, as a call
                self._fail(call, exc)
        return call

    def _fail(self, call: "_Call", exc: Exception) -> NoReturn:
        """Raise what a failed call raises: the error itself when it stops runs (or errors are not
        caught), else a TraceExecutionError holding an ExceptionNode linked to the inputs."""
        if not self.catch_exceptions or stops_run(exc):
            raise exc
        err = ExceptionNode(exc, call.op, tuple(call.parents) if call.tracing else (), tuple(call.names))
        raise TraceExecutionError(self._failure_message(exc, call.fn), err) from exc

    def _record(self, call: "_Call", result: Any) -> Node:
        """The call's output node: its parents are the inputs (and the code parameter)."""
        info = None
        if call.reads:
            info = self._check_reads(call)
        if self.traceable_code and call.tracing:
            inner = result if isinstance(result, Node) else Node(result, f"{self.name}.output")
            info = {"output": inner}
        if isinstance(result, Node):
            result = result._data
        if not call.tracing:
            return Node(result, self.name)
        return MessageNode(result, call.op, tuple(call.parents), tuple(call.names), info=info)

    def _check_reads(self, call: "_Call") -> Optional[Dict[str, Any]]:
        """A node the code read but was not given is an edge the graph would miss: feedback would
        never reach what it came from. It is linked as an input (with a warning, once per place),
        or refused (``missing_inputs="error"``, Trace's way); ``allow_external_dependencies`` only
        lists it."""
        given = set(map(id, call.parents))
        outside = list({id(n): n for n in call.reads if id(n) not in given}.values())
        if not outside:
            return None
        info = {"external_dependencies": outside}
        if self.allow_external_dependencies:
            return info
        lost = [n for n in outside if n.trainable or n.parents]  # a bare constant carries no feedback
        if not lost:
            return info
        what = ", ".join(repr(n.name) for n in lost)
        if self.missing_inputs == "error":
            raise TraceMissingInputsError(
                f"{self.name} read {what} without being given it: feedback on its output would never reach it. "
                f"Pass it as an argument of {self.name}, trace the code inside (bundle(traceable_code=True)), "
                "or allow it (bundle(allow_external_dependencies=True))")
        warnings.warn(f"{self.name} read {what} without being given it; it is linked as an input so feedback "
                      f"reaches it (pass it as an argument of {self.name} to say so)", TraceMissingInputsWarning,
                      stacklevel=5)
        for n in lost:
            call.parents.append(n)
            call.names.append(f"{EXTERNAL}{n.name}")
        return info

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


class _Call:
    """One call on its way through a bundle: what runs, on what, and what it read."""

    __slots__ = ("op", "fn", "arguments", "parents", "names", "tracing", "reads", "tokens")

    def __init__(self, op: Any, fn: Callable, arguments: inspect.BoundArguments, parents: List[Node],
                 names: List[str], tracing: bool, reads: Optional[List[Node]]) -> None:
        self.op, self.fn, self.arguments, self.parents = op, fn, arguments, parents
        self.names, self.tracing, self.reads = names, tracing, reads


def _keep_node(name: str, value: Any, parents: List[Node], names: List[str]) -> Node:
    """For code traced inside: the input stays a node (a plain value becomes one), and is a parent."""
    current = value if isinstance(value, Node) else Node(value, name)
    parents.append(current)
    names.append(name)
    return current


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
        current, runner = self.parameter._data, self.parameter.code_runner
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
