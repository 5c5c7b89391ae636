"""Static check of candidate code, before anything runs.

Most hostile proposals (`import os`, `os.system`, `__subclasses__` escapes) are caught here
and turned into feedback the optimizer can read ("imported subprocess, not allowed").
"""
from __future__ import annotations

import ast

from .policy import DEFAULT_POLICY, Policy


def check(code: str, func_name: str, policy: Policy = DEFAULT_POLICY) -> list[str]:
    """Return the violations of `policy` in `code`, one clear sentence each (empty: accepted)."""
    try:
        tree = ast.parse(code)
    except SyntaxError as e:
        return [f"does not parse: {e.msg} (line {e.lineno})"]
    violations: list[str] = []
    module_aliases: set[str] = set()

    def add(message: str, node: ast.AST) -> None:
        line = getattr(node, "lineno", None)
        text = f"{message} (line {line})" if line else message
        if text not in violations:
            violations.append(text)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                module_aliases.add((alias.asname or alias.name).split(".")[0])
                if not policy.allows_module(alias.name):
                    add(f"imported {alias.name}, not allowed", node)
        elif isinstance(node, ast.ImportFrom):
            name = "." * node.level + (node.module or "")
            if node.level or not policy.allows_module(name):
                add(f"imported {name}, not allowed", node)
            for alias in node.names:
                if alias.name.startswith("_"):
                    add(f"imported private name {name}.{alias.name}, not allowed", node)
        elif isinstance(node, ast.Name) and node.id in policy.forbidden_names:
            add(f"used {node.id}, not allowed", node)
        elif isinstance(node, ast.Attribute) and node.attr in policy.forbidden_attributes:
            add(f"used attribute {node.attr}, not allowed", node)
        elif isinstance(node, ast.Call):
            _check_call(node, policy, add)

    # A module's private attributes (random._os) reach modules that are not allowed.
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                and isinstance(node.value, ast.Name) and node.value.id in module_aliases):
            add(f"used private attribute {node.value.id}.{node.attr}, not allowed", node)

    defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    if func_name not in defined:
        violations.append(f"does not define a function named {func_name}")
    return violations


def _check_call(node: ast.Call, policy: Policy, add) -> None:
    """getattr & co. with a computed name would dodge the attribute check; `open` must read."""
    func = node.func.id if isinstance(node.func, ast.Name) else None
    if func in ("getattr", "setattr", "delattr", "hasattr") and len(node.args) >= 2:
        name = node.args[1]
        if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
            add(f"called {func} with a computed attribute name, not allowed", node)
        elif name.value in policy.forbidden_attributes or name.value.startswith("__"):
            add(f"used attribute {name.value} through {func}, not allowed", node)
    if func == "open" and not policy.allow_write:
        mode = node.args[1] if len(node.args) >= 2 else next(
            (k.value for k in node.keywords if k.arg == "mode"), None)
        if mode is not None and not (isinstance(mode, ast.Constant) and isinstance(mode.value, str)
                                     and set(mode.value) <= set("rbt")):
            add("opened a file for writing, not allowed", node)
