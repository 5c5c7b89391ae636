"""Static check of candidate code, before anything runs.

Most hostile proposals (`import os`, `os.system`, `__subclasses__` escapes) are caught here
and turned into feedback the optimizer can read ("imported subprocess, not allowed"). The
rules close the usual roads from allowed code to a forbidden module: an allowed module's
attribute that is itself a module (`typing.sys`), attribute names given as strings
(`operator.attrgetter`, `getattr` with a computed name, format fields such as
`"{0.__globals__}"`), dangerous builtins passed around under another name (`o = open`), and
names of the surrounding module (`context`) that hold a module or an object from one.
"""
from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import re
from typing import Any, Callable, Iterable, Mapping, Optional

from .policy import DEFAULT_POLICY, Policy

# Dunder attributes ordinary code uses; every other `__x__` attribute is refused.
SAFE_DUNDERS = frozenset({
    "__init__", "__name__", "__qualname__", "__doc__", "__len__", "__iter__", "__next__", "__contains__",
    "__getitem__", "__setitem__", "__enter__", "__exit__", "__str__", "__repr__", "__eq__", "__lt__",
    "__hash__", "__add__",
})
# Builtins that reach attributes or files by a value: only ever called directly, never renamed.
DIRECT_ONLY = frozenset({"open", "getattr", "setattr", "delattr", "hasattr"})
_FIELD_ATTRIBUTE = re.compile(r"\{[^{}]*[.\[]_")  # a format field reaching a private or dunder name


def check(code: str, func_name: str, policy: Policy = DEFAULT_POLICY, context: Optional[Mapping[str, Any]] = None,
          home: Iterable[str] = ()) -> list[str]:
    """Return the violations of `policy` in `code`, one clear sentence each (empty: accepted).
    `context`: the names the code will see besides its own and the builtins (its module's
    globals); `home`: modules whose functions, classes and objects it may use (its own)."""
    try:
        tree = ast.parse(code)
    except SyntaxError as e:
        return [f"does not parse: {e.msg} (line {e.lineno})"]
    violations: list[str] = []

    def add(message: str, node: ast.AST) -> None:
        line = getattr(node, "lineno", None)
        text = f"{message} (line {line})" if line else message
        if text not in violations:
            violations.append(text)

    modules = _imported_modules(tree, policy, add)
    direct_callees = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if node.id in policy.forbidden_names:
                add(f"used {node.id}, not allowed", node)
            elif node.id in DIRECT_ONLY and id(node) not in direct_callees:
                add(f"used {node.id} other than in a direct call, not allowed", node)
        elif isinstance(node, ast.Attribute):
            _check_attribute(node, policy, modules, add)
        elif isinstance(node, ast.Call):
            _check_call(node, policy, add)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _FIELD_ATTRIBUTE.search(node.value):
            add("a format string reaching a private attribute, not allowed", node)
    if context is not None:
        _check_context(tree, context, policy, set(home), add)

    defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    if func_name not in defined:
        violations.append(f"does not define a function named {func_name}")
    return violations


def _imported_modules(tree: ast.AST, policy: Policy, add: Callable) -> dict:
    """Check the imports; return {alias: module name} for the allowed ones."""
    modules: dict = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if not policy.allows_module(alias.name):
                    add(f"imported {alias.name}, not allowed", node)
                elif alias.asname:
                    modules[alias.asname] = alias.name
                else:
                    modules[alias.name.split(".")[0]] = alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            name = "." * node.level + (node.module or "")
            if node.level or not policy.allows_module(name):
                add(f"imported {name}, not allowed", node)
                continue
            for alias in node.names:
                if alias.name.startswith("_"):
                    add(f"imported private name {name}.{alias.name}, not allowed", node)
                elif alias.name in policy.forbidden_attributes or alias.name in policy.forbidden_names:
                    add(f"imported {name}.{alias.name}, not allowed", node)
                else:
                    target = _module_attribute(name, alias.name)
                    if inspect.ismodule(target):
                        if not policy.allows_module(target.__name__):
                            add(f"imported {name}.{alias.name} (module {target.__name__}), not allowed", node)
                        else:
                            modules[alias.asname or alias.name] = target.__name__
    return modules


def _check_attribute(node: ast.Attribute, policy: Policy, modules: dict, add: Callable) -> None:
    attr = node.attr
    if attr in policy.forbidden_attributes or (attr.startswith("__") and attr.endswith("__") and attr not in SAFE_DUNDERS):
        add(f"used attribute {attr}, not allowed", node)
        return
    if isinstance(node.value, ast.Name) and node.value.id in modules:
        owner = modules[node.value.id]
        if attr.startswith("_"):
            add(f"used private attribute {node.value.id}.{attr}, not allowed", node)
            return
        target = _module_attribute(owner, attr)
        if inspect.ismodule(target) and not policy.allows_module(target.__name__):
            add(f"used {node.value.id}.{attr} (module {target.__name__}), not allowed", node)


def _module_attribute(module: str, attr: str) -> Any:
    """What `module.attr` is (modules on the allow-list are plain computation: importing one
    to look is harmless); None when it cannot be told."""
    try:
        return getattr(importlib.import_module(module), attr, None)
    except Exception:  # an allowed name that fails to import: the run will say so
        return None


def _check_call(node: ast.Call, policy: Policy, add: Callable) -> None:
    """getattr & co. with a computed name would dodge the attribute check; `open` must read."""
    func = node.func.id if isinstance(node.func, ast.Name) else None
    if func in DIRECT_ONLY and (any(isinstance(a, ast.Starred) for a in node.args)
                                or any(k.arg is None for k in node.keywords)):
        add(f"called {func} with unpacked arguments, not allowed", node)
        return
    if func in ("getattr", "setattr", "delattr", "hasattr") and len(node.args) >= 2:
        name = node.args[1]
        if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
            add(f"called {func} with a computed attribute name, not allowed", node)
        elif name.value in policy.forbidden_attributes or name.value.startswith("_"):
            add(f"used attribute {name.value} through {func}, not allowed", node)
    if func == "open" and not policy.allow_write:
        mode = node.args[1] if len(node.args) >= 2 else next(
            (k.value for k in node.keywords if k.arg == "mode"), None)
        if mode is not None and not (isinstance(mode, ast.Constant) and isinstance(mode.value, str)
                                     and set(mode.value) <= set("rbt")):
            add("opened a file for writing, not allowed", node)


def _check_context(tree: ast.AST, context: Mapping[str, Any], policy: Policy, home: set, add: Callable) -> None:
    """A name the code does not define resolves in `context`: a module or an object from a
    module that is not allowed (and not the code's home) is a road around the import check."""
    bound = _bound_names(tree)
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)) or node.id in bound:
            continue
        if node.id not in context or (node.id in vars(builtins) and context[node.id] is vars(builtins)[node.id]):
            continue
        value = context[node.id]
        if inspect.ismodule(value):
            origin = value.__name__
        elif inspect.isroutine(value) or inspect.isclass(value):
            origin = getattr(value, "__module__", None) or "builtins"
        else:
            origin = type(value).__module__
        if origin != "builtins" and origin not in home and not policy.allows_module(origin):
            what = "module" if inspect.ismodule(value) else "from"
            add(f"used {node.id} ({what} {origin}), not allowed", node)


def _bound_names(tree: ast.AST) -> set:
    """Names the code binds itself: functions, classes, arguments, assignments, imports."""
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return bound
