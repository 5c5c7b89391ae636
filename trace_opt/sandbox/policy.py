"""What candidate code may use: a small default allow-list that the user widens explicitly.

Code proposed by an LLM was written by nobody; the default refuses process, file-system
and network access, so a bad proposal costs one rejected candidate, not the machine.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

# Pure-computation modules: none of them gives access to processes, files or the network.
DEFAULT_MODULES = frozenset({
    "math", "re", "json", "string", "itertools", "functools", "collections", "statistics",
    "datetime", "decimal", "fractions", "random", "heapq", "bisect", "textwrap", "unicodedata",
    "typing", "dataclasses", "enum", "operator", "copy",
})

# Builtins a candidate may not name: code execution, the import machinery, leaving the
# interpreter, and introspection that reaches other modules' globals.
DEFAULT_FORBIDDEN_NAMES = frozenset({
    "eval", "exec", "compile", "__import__", "exit", "quit", "breakpoint", "input", "help",
    "globals", "locals", "vars", "__builtins__", "__loader__", "__spec__",
})

# Attributes that lead from any object to the interpreter's internals (the classic
# `().__class__.__bases__[0].__subclasses__()` escape) or to a frame's globals.
DEFAULT_FORBIDDEN_ATTRIBUTES = frozenset({
    "__subclasses__", "__globals__", "__builtins__", "__code__", "__closure__", "__bases__",
    "__base__", "__mro__", "__class__", "__dict__", "__getattribute__", "__loader__", "__spec__",
    "__import__", "__self__", "__func__", "__reduce__", "__reduce_ex__", "__subclasshook__",
    "__init_subclass__", "__set_name__", "mro", "gi_frame", "gi_code", "cr_frame", "ag_frame",
    "f_globals", "f_locals", "f_builtins", "f_back", "tb_frame", "co_code",
    "system", "popen", "fork", "forkpty", "spawn", "kill", "exit", "_exit",
    # attributes reached by a string: operator's getters, string.Formatter's field lookup
    "attrgetter", "methodcaller", "get_field",
})


@dataclass(frozen=True)
class Policy:
    """The limits a candidate runs under; `widen` returns a copy that allows more."""

    allowed_modules: frozenset = DEFAULT_MODULES
    forbidden_names: frozenset = DEFAULT_FORBIDDEN_NAMES
    forbidden_attributes: frozenset = DEFAULT_FORBIDDEN_ATTRIBUTES
    allow_write: bool = False          # `open` for writing, inside the sandbox dir only
    recursion_limit: int = 1000
    max_output_chars: int = 10_000     # per stream; the rest is dropped
    max_open_files: int = 64
    max_result_bytes: int = 1024 * 1024  # a return value, encoded; more is a failed call
    max_depth: int = 100               # nesting of a value that crosses to or from the worker
    scratch_mb: int = 16               # the worker's private tmpfs, and its largest file
    check_static: bool = True          # False only to test the run-time layer on its own

    def widen(self, modules=(), names=(), attributes=(), allow_write=None, **changes) -> "Policy":
        """Allow more modules / names / attributes (and change limits) explicitly."""
        return replace(
            self,
            allowed_modules=self.allowed_modules | set(modules),
            forbidden_names=self.forbidden_names - set(names),
            forbidden_attributes=self.forbidden_attributes - set(attributes),
            allow_write=self.allow_write if allow_write is None else allow_write,
            **changes,
        )

    def allows_module(self, name: str) -> bool:
        """A module (or a submodule of one) on the allow-list."""
        return name.split(".")[0] in self.allowed_modules or name in self.allowed_modules


DEFAULT_POLICY = Policy()
