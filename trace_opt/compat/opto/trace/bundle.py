"""Trace's ``bundle`` (its argument order and names) over trace_opt's bundle."""
from __future__ import annotations

import ast
import inspect
import re
import textwrap
from typing import Any, Callable, Dict, Optional

from ....graph.bundle import Bundle
from ....graph.containers import to_data
from .errors import ExecutionError, TraceMissingInputsError

class FunModule(Bundle):
    """What Trace's ``bundle`` returns: a trace_opt Bundle that also answers Trace's ``info``."""

    @property
    def info(self) -> Dict[str, Any]:
        """The function's source below the ``bundle`` decorator (other decorators kept), and the
        line it starts on, as Trace reports them."""
        lines, start = inspect.getsourcelines(self.fn)
        fdef = next(n for n in ast.parse(textwrap.dedent("".join(lines))).body
                    if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))
        cut = max((d.end_lineno for d in fdef.decorator_list if "bundle" in ast.unparse(d)), default=0)
        return {"source": textwrap.dedent("".join(lines[cut:])).rstrip("\n"), "line_number": start + cut,
                "file": inspect.getsourcefile(self.fn), "fun_name": self.name, "doc": self.description}


_NAMED = re.compile(r"^\s*\[([^\]]+)\]")


def bundle(description: Optional[str] = None, traceable_code: bool = False, _process_inputs: bool = True,
           trainable: bool = False, catch_execution_error: bool = True, allow_external_dependencies: bool = False,
           overwrite_python_recursion: bool = False, projections: Any = None) -> Callable[[Callable], Bundle]:
    """``@bundle("[name] what it does", trainable=...)``; the ``[name]`` prefix names the operation.
    As in Trace, reading a node the function was not given raises TraceMissingInputsError."""
    if callable(description):
        raise TypeError("Trace's bundle takes options, not the function: write @bundle(), not @bundle")
    named = _NAMED.match(description or "")

    def decorate(fn: Callable) -> Bundle:
        return FunModule(fn, trainable=trainable, catch_exceptions=catch_execution_error,
                      description=description, name=named.group(1).strip() if named else None,
                      traceable_code=traceable_code, allow_external_dependencies=allow_external_dependencies,
                      missing_inputs="error", overwrite_python_recursion=overwrite_python_recursion)

    return decorate


__all__ = ["ExecutionError", "FunModule", "TraceMissingInputsError", "bundle", "to_data"]
