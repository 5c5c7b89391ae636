"""Nodes of a trace: values that remember where they came from.

A node holds a value and the tuple of nodes it was computed from (its parents); nothing
else points at it, so a graph lives exactly as long as something holds its output.
"""
from __future__ import annotations

import types
import weakref
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from . import containers, operators as ops
from .context import _reads, _tracing
from .errors import TraceExecutionError, stops_run
from .feedback import FeedbackRecord, FeedbackRecords
from .kinds import Spec


class Node:
    """A value in a trace. Python operations on it are traced (``a + b`` makes a MessageNode
    whose parents are ``a`` and ``b``); ``.data`` is the plain value."""

    __slots__ = ("_data", "name", "parents", "_description", "__weakref__")
    trainable = False
    info = None  # a traced call's extras: ``{"output": ...}`` of a bundle traced inside (see bundle)

    def __init__(self, value: Any, name: Optional[str] = None, description: Optional[str] = None) -> None:
        self._data = value._data if isinstance(value, Node) else value
        self.name = name or "value"
        self.parents: Tuple[Node, ...] = ()
        self._description = description

    @property
    def data(self) -> Any:
        reads = _reads.get()
        if reads is not None:  # a bundle is running: it should have been given this node
            reads.append(self)
        return self._data

    @property
    def description(self) -> str:
        return self._description or ""

    def backward(self, feedback: Any = None, *, propagator: Any = None, visualize: bool = False) -> Any:
        """Send feedback about this output to every parameter that influenced it. With
        ``visualize=True`` the graph comes back as a ``graphviz.Digraph`` (Trace's habit)."""
        from .backward import backward

        backward(self, feedback, propagator=propagator)
        if visualize:
            from .export import digraph

            return digraph(self)
        return None

    @property
    def inputs(self) -> Dict[str, "Node"]:
        """A constant or parameter has no inputs (a traced node's are its operation's, by name)."""
        return {}

    @property
    def children(self) -> List["Node"]:
        """The traced nodes computed from this one (only while ``track_children`` is on, as the
        compat layer has it: trace_opt keeps no such pointers otherwise)."""
        if _children is None:
            raise AttributeError(_UNTRACKED)
        entry = _children.get(id(self))
        if entry is None or entry[0]() is not self:
            return []
        return [child for child in (ref() for ref in entry[1]) if child is not None]

    @property
    def parameter_dependencies(self) -> set:
        """The trainable nodes this one was computed from, through its parents (Trace's name)."""
        from .traversal import ancestors

        return {n for n in ancestors(self, expand=False) if n.trainable}

    @property
    def expandable_dependencies(self) -> set:
        """The nodes this one came from (itself included) that are bundles traced inside."""
        from .traversal import ancestors

        return {n for n in ancestors(self, expand=False) if n.info is not None and "output" in n.info}

    # -- copies ------------------------------------------------------------------------
    def clone(self) -> "Node":
        """A traced copy: a new node with the same value whose parent is this one."""
        return apply(ops.IDENTITY, (self,))

    def detach(self) -> "Node":
        """A constant with a deep copy of the value, cut from the graph (no parents)."""
        import copy

        return Node(copy.deepcopy(self._data), self.name, self._description)

    def __deepcopy__(self, memo: Dict[int, Any]) -> "Node":
        # A copy of the value and settings, not of the history: a deep-copied output has no parents
        # (copying them would copy the whole graph), and a copied parameter has no feedback yet.
        import copy

        twin = object.__new__(type(self))
        memo[id(self)] = twin
        for cls in type(self).__mro__:
            for slot in getattr(cls, "__slots__", ()):
                if slot == "__weakref__" or not hasattr(self, slot):
                    continue
                value = getattr(self, slot)
                if slot == "parents":
                    value = ()
                elif slot == "feedback":
                    value = FeedbackRecords()
                elif slot not in ("op", "code_runner", "spec"):
                    value = copy.deepcopy(value, memo)
                object.__setattr__(twin, slot, value)
        return twin

    # -- plain-Python protocols: these must return plain values -----------------------
    __hash__ = object.__hash__  # identity, so nodes work as dict keys and set members

    def __bool__(self) -> bool:
        return bool(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, item: Any) -> bool:
        return (item._data if isinstance(item, Node) else item) in self._data

    def __index__(self) -> int:
        return self._data.__index__()

    def __int__(self) -> int:
        return int(self._data)

    def __float__(self) -> float:
        return float(self._data)

    def __str__(self) -> str:
        return str(self._data)

    def __format__(self, spec: str) -> str:
        return format(self._data, spec)

    def __repr__(self) -> str:
        text = repr(self._data)
        if len(text) > 80:
            text = text[:77] + "..."
        return f"{type(self).__name__}({self.name!r}, data={text})"

    def __iter__(self) -> Iterator["Node"]:
        # Each item is a traced x[i]; dicts, sets and other iterables go through a traced list(x).
        seq = self if isinstance(self._data, (list, tuple, str)) else apply(ops.CALL, (list, self))
        return (apply(ops.GETITEM, (seq, i)) for i in range(len(seq._data)))

    # -- traced forms ------------------------------------------------------------------
    def len(self) -> "Node":
        """Traced ``len``: Python requires ``len(node)`` to return an int, so this is the node form."""
        return apply(ops.LEN, (self,))

    def getattr(self, name: Any) -> "Node":
        """Traced attribute access, explicit form."""
        return apply(ops.GETATTR, (self, name))

    def call(self, name: str, *args: Any, **kwargs: Any) -> "Node":
        """Traced method call on the data: ``n.call("upper")`` is ``n.data.upper()`` traced."""
        return self.getattr(name)(*args, **kwargs)

    def __getattr__(self, name: str) -> "Node":
        # Only reached for names a Node does not define: fall back to the data's attribute.
        if name == "children":  # its property raised: say why, not that the data lacks it
            raise AttributeError(_UNTRACKED)
        if name.startswith("_"):
            raise AttributeError(name)
        data = self._data
        if not hasattr(data, name):
            raise AttributeError(f"{type(self).__name__} has no attribute {name!r}, nor does its data ({type(data).__name__})")
        return apply(ops.GETATTR, (self, name))

    def __call__(self, *args: Any, **kwargs: Any) -> "Node":
        if _is_python_code(self._data):  # the user's own function or method: it gets the nodes
            return _call_python(self, args, kwargs)
        return apply(ops.CALL, (self,) + args, kwargs)

    def __getitem__(self, key: Any) -> "Node":
        return apply(ops.GETITEM, (self, key))

    def __setitem__(self, key: Any, value: Any) -> None:
        raise TypeError("nodes are records of what happened and cannot be changed in place; compute a new value (a bundle) instead")

    def __add__(self, o): return apply(ops.ADD, (self, o))
    def __radd__(self, o): return apply(ops.ADD, (o, self))
    def __sub__(self, o): return apply(ops.SUB, (self, o))
    def __rsub__(self, o): return apply(ops.SUB, (o, self))
    def __mul__(self, o): return apply(ops.MUL, (self, o))
    def __rmul__(self, o): return apply(ops.MUL, (o, self))
    def __truediv__(self, o): return apply(ops.TRUEDIV, (self, o))
    def __rtruediv__(self, o): return apply(ops.TRUEDIV, (o, self))
    def __floordiv__(self, o): return apply(ops.FLOORDIV, (self, o))
    def __rfloordiv__(self, o): return apply(ops.FLOORDIV, (o, self))
    def __mod__(self, o): return apply(ops.MOD, (self, o))
    def __rmod__(self, o): return apply(ops.MOD, (o, self))
    def __pow__(self, o): return apply(ops.POW, (self, o))
    def __rpow__(self, o): return apply(ops.POW, (o, self))
    def __matmul__(self, o): return apply(ops.MATMUL, (self, o))
    def __rmatmul__(self, o): return apply(ops.MATMUL, (o, self))
    def __lshift__(self, o): return apply(ops.LSHIFT, (self, o))
    def __rlshift__(self, o): return apply(ops.LSHIFT, (o, self))
    def __rshift__(self, o): return apply(ops.RSHIFT, (self, o))
    def __rrshift__(self, o): return apply(ops.RSHIFT, (o, self))
    def __and__(self, o): return apply(ops.AND, (self, o))
    def __rand__(self, o): return apply(ops.AND, (o, self))
    def __or__(self, o): return apply(ops.OR, (self, o))
    def __ror__(self, o): return apply(ops.OR, (o, self))
    def __xor__(self, o): return apply(ops.XOR, (self, o))
    def __rxor__(self, o): return apply(ops.XOR, (o, self))
    def __eq__(self, o): return apply(ops.EQ, (self, o))  # type: ignore[override]
    def __ne__(self, o): return apply(ops.NE, (self, o))  # type: ignore[override]
    def __lt__(self, o): return apply(ops.LT, (self, o))
    def __le__(self, o): return apply(ops.LE, (self, o))
    def __gt__(self, o): return apply(ops.GT, (self, o))
    def __ge__(self, o): return apply(ops.GE, (self, o))
    def __neg__(self): return apply(ops.NEG, (self,))
    def __pos__(self): return apply(ops.POS, (self,))
    def __abs__(self): return apply(ops.ABS, (self,))
    def __invert__(self): return apply(ops.INVERT, (self,))


# Trace gives every node a list of its children; trace_opt keeps no pointer from a node to what was
# computed from it (a graph lives as long as its output is held). The compat layer turns this on:
# then each new MessageNode is noted, weakly, as a child of its parents.
_UNTRACKED = ("children are not tracked: trace_opt keeps no pointer from a node to what was computed from it; "
              "call trace_opt.graph.nodes.track_children() first (the Trace compat layer does)")
# Keyed by id, never by the node: nodes trace ``==`` (a lookup by node would build graphs).
_children: Optional[Dict[int, Tuple[Any, List[Any]]]] = None


def track_children(on: bool = True) -> None:
    """Note, weakly, each new traced node as a child of its parents (``node.children``)."""
    global _children
    if on and _children is None:
        _children = {}
    elif not on:
        _children = None


def _note_child(parent: "Node", child: "Node") -> None:
    table = _children
    if table is None:
        return
    entry = table.get(id(parent))
    if entry is None or entry[0]() is not parent:
        key = id(parent)
        entry = table[key] = (weakref.ref(parent, lambda _, key=key: table.pop(key, None)), [])
    entry[1].append(weakref.ref(child))


class MessageNode(Node):
    """The output of a traced operation: ``op`` says what computed it, ``parents`` from what."""

    __slots__ = ("op", "arg_names", "info")

    def __init__(self, value: Any, op: Any, parents: Tuple[Node, ...], arg_names: Optional[Tuple[str, ...]] = None,
                 name: Optional[str] = None, info: Optional[Dict[str, Any]] = None) -> None:
        self._data = value
        self.name = name or op.name
        self.parents = parents
        self._description = None
        self.op = op
        self.arg_names = arg_names
        self.info = info
        if _children is not None:
            for parent in parents:
                _note_child(parent, self)

    @property
    def description(self) -> str:
        return self._description or self.op.description

    @property
    def inputs(self) -> Dict[str, Node]:
        """The operation's inputs by argument name."""
        names = self.arg_names or self.op.input_names(len(self.parents))
        return dict(zip(names, self.parents))

    _inputs = inputs  # Trace's name


def error_type(exception: BaseException) -> str:
    """The name of what was raised (isolated code names what it raised in its worker)."""
    return getattr(exception, "error_type", None) or type(exception).__name__


class ExceptionNode(MessageNode):
    """A traced operation that raised: ``data`` is ``"(ErrorType) message"``, ready to be feedback."""

    __slots__ = ("exception",)

    def __init__(self, exception: BaseException, op: Any, parents: Tuple[Node, ...],
                 arg_names: Optional[Tuple[str, ...]] = None) -> None:
        super().__init__(f"({error_type(exception)}) {exception}", op, parents, arg_names)
        self.exception = exception


class Parameter(Node):
    """A trainable value: text, number, categorical choice, code, JSON data or a tensor.

    Every new value (a user's assignment or an optimizer's proposal) is validated for the
    parameter's kind; an invalid one raises ValueError and leaves the parameter unchanged.
    """

    __slots__ = ("spec", "constraint", "trainable", "feedback", "_auto_named", "code_runner")

    def __init__(self, value: Any, name: Optional[str] = None, *, description: Optional[str] = None,
                 constraint: Optional[str] = None, bounds: Optional[Sequence] = None,
                 choices: Optional[Sequence] = None, kind: Optional[str] = None, trainable: bool = True,
                 k: Optional[int] = None) -> None:
        if isinstance(value, Node):
            raise TypeError("Parameter(value=...) takes a plain value, got a Node; pass node.data")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Parameter name must be a str, got {type(name).__name__}")
        self.spec = Spec.infer(value, kind, bounds, choices, k)
        self._data = self.spec.validate(value)
        self.name = name or "param"
        self._auto_named = name is None
        self.parents = ()
        self._description = description
        self.constraint = constraint
        self.trainable = bool(trainable)
        self.feedback: List[FeedbackRecord] = FeedbackRecords()
        # Code only: how versions other than the original run (None: compiled in this process).
        # An optimizer that vets proposed code sets an isolated runner (graph/isolated.py).
        self.code_runner: Optional[Any] = None

    @property
    def data(self) -> Any:
        reads = _reads.get()
        if reads is not None:
            reads.append(self)
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        self._data = self.spec.validate(value)

    def validate(self, value: Any) -> Any:
        """The value as it would be stored, or ValueError; the parameter is not changed."""
        return self.spec.validate(value)

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def bounds(self) -> Optional[tuple]:
        return self.spec.bounds

    @property
    def choices(self) -> Optional[tuple]:
        return self.spec.choices

    def zero_feedback(self) -> None:
        self.feedback.clear()

    @property
    def k(self) -> Optional[int]:
        """Demos only: the most demonstrations the parameter holds."""
        return self.spec.max_items


class Demos(Parameter):
    """Demonstrations: up to ``k`` (input, output) examples that ``to.ops.llm_call(..., demos=)``
    shows the model as prior turns. Optimizers fill it from the traces of rollouts a guide scored
    well, or from labelled rows, and keep a set only when it scores better on validation."""

    __slots__ = ()

    def __init__(self, examples: Sequence = (), k: int = 4, name: Optional[str] = None, *,
                 description: Optional[str] = None, trainable: bool = True) -> None:
        super().__init__(list(examples), name, description=description or f"up to {k} demonstrations",
                         kind="demos", k=k, trainable=trainable)


def node(value: Any, name: Optional[str] = None, description: Optional[str] = None, *,
         trainable: bool = False, **parameter_options: Any) -> Node:
    """Wrap a value as a node (a Node stays as it is); ``trainable=True`` makes a Parameter."""
    if isinstance(value, Node):
        return value
    if trainable:
        return Parameter(value, name, description=description, **parameter_options)
    if parameter_options:
        raise TypeError(f"node(): {sorted(parameter_options)} apply to trainable nodes only (trainable=True)")
    return Node(value, name, description)


def apply(op: ops.Operator, args: Tuple[Any, ...], kwargs: Optional[Dict[str, Any]] = None) -> Node:
    """Run one traced operation: unwrap the inputs, call, and record the result."""
    tracing = _tracing.get()
    values = []
    for a in args:  # one plain pass: this is the hot path of every traced operation
        if isinstance(a, Node):
            values.append(a._data)
        elif type(a) in _CONTAINERS and containers.holds_nodes(a):
            return _apply_unwrapped(op, args, kwargs or {}, tracing)
        else:
            values.append(a)
    names = None
    if kwargs:
        if any(type(v) in _CONTAINERS and containers.holds_nodes(v) for v in kwargs.values()):
            return _apply_unwrapped(op, args, kwargs, tracing)
        kw_values = {k: (v._data if isinstance(v, Node) else v) for k, v in kwargs.items()}
        names = op.input_names(len(args)) + tuple(kwargs)
    else:
        kw_values = {}
    try:
        value = op.fn(*values, **kw_values)
    except Exception as exc:
        raise _failure(op, exc, _as_parents(args, kwargs) if tracing else (), names) from exc
    return _output(op, value, _as_parents(args, kwargs) if tracing else (), names, tracing)


_CONTAINERS = (list, tuple, dict)


def _apply_unwrapped(op: ops.Operator, args: Tuple[Any, ...], kwargs: Dict[str, Any], tracing: bool) -> Node:
    """``apply`` for calls given lists or dicts of nodes: each node inside is a parent."""
    parents: List[Node] = []
    names: List[str] = []
    arg_names = op.input_names(len(args))
    values = [containers.take(arg_names[i], a, parents, names) for i, a in enumerate(args)]
    kw_values = {k: containers.take(k, v, parents, names) for k, v in kwargs.items()}
    try:
        value = op.fn(*values, **kw_values)
    except Exception as exc:
        raise _failure(op, exc, tuple(parents) if tracing else (), tuple(names)) from exc
    return _output(op, value, tuple(parents), tuple(names), tracing)


def _is_python_code(fn: Any) -> bool:
    return isinstance(fn, types.FunctionType) or (isinstance(fn, types.MethodType)
                                                   and isinstance(fn.__func__, types.FunctionType))


def _call_python(fn: Node, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Node:
    """Call a Python function held by a node with the nodes themselves (as Trace does): what it
    computes from them is traced, and is the inner graph of the call's node (``info["output"]``),
    so feedback on the call reaches what the function used (a node of its object, say)."""
    tracing = _tracing.get()
    names = ops.CALL.input_names(1 + len(args)) + tuple(kwargs) if kwargs else None
    parents = _as_parents((fn,) + args, kwargs) if tracing else ()
    try:
        result = fn._data(*args, **kwargs)
    except Exception as exc:
        raise _failure(ops.CALL, exc, parents, names) from exc
    inner = isinstance(result, Node) and all(result is not p for p in parents)
    return _output(ops.CALL, result, parents, names, tracing, {"output": result} if inner else None)


def _failure(op: Any, exc: Exception, parents: Tuple[Node, ...], names: Optional[Tuple[str, ...]]) -> Exception:
    """What a failed traced operation raises: TraceExecutionError holding the ExceptionNode
    (re-raising at once an error that stops runs, untouched)."""
    if stops_run(exc):
        raise exc
    err = ExceptionNode(exc, op, parents, names)
    return TraceExecutionError(f"{op.name} raised {type(exc).__name__}: {exc}", err)


def _output(op: Any, value: Any, parents: Tuple[Node, ...], names: Optional[Tuple[str, ...]], tracing: bool,
            info: Optional[Dict[str, Any]] = None) -> Node:
    """The node a traced operation's result becomes (a plain node when not tracing)."""
    if isinstance(value, Node):
        value = value._data
    if not tracing:
        return Node(value, op.name)
    return MessageNode(value, op, parents, names, info=info)


def _as_parents(args: Tuple[Any, ...], kwargs: Optional[Dict[str, Any]]) -> Tuple[Node, ...]:
    if kwargs:
        args = args + tuple(kwargs.values())
    return tuple([a if isinstance(a, Node) else Node(a, type(a).__name__) for a in args])
