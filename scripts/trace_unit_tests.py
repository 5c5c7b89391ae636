#!/usr/bin/env python3
"""Run Microsoft Trace's own unit tests against trace_opt's compat layer, section by section.

Why: the compat layer's promise is "change one import"; Trace's tests, with `opto` rewritten to
`trace_opt.compat.opto`, are what a migrating user's code looks like. Each test file runs in its own
process; a section is one top-level statement that is not a definition or an import (those run with
the section after them), executed in order in one namespace, so a failing section does not hide the
ones after it. Usage: scripts/trace_unit_tests.py TRACE_SOURCE_DIR [-v] [-k NAME]
(TRACE_SOURCE_DIR: an unpacked `trace-opt` sdist, e.g. from `pip download --no-binary :all: trace-opt==0.1.3.8`).
"""
from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

IMPORT = re.compile(r"\b(from|import)(\s+)opto\b")

RUNNER = r'''
import ast, json, sys, traceback, warnings
warnings.simplefilter("ignore")
source = open(sys.argv[1]).read()
tree = ast.parse(source)
sections, pending = [], []
for stmt in tree.body:
    pending.append(stmt)
    if not isinstance(stmt, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        sections.append(pending); pending = []
if pending:
    sections.append(pending)
namespace = {"__name__": "__main__", "__file__": sys.argv[1]}
results = []
for body in sections:
    module = ast.Module(body=body, type_ignores=[])
    line = body[-1].lineno
    try:
        exec(compile(module, sys.argv[1], "exec"), namespace)
        results.append({"line": line, "ok": True})
    except BaseException as exc:  # a failing section is a result, not the end of the file
        results.append({"line": line, "ok": False, "error": f"{type(exc).__name__}: {exc}"[:300],
                        "where": traceback.format_exc().strip().splitlines()[-3:]})
print("@@RESULTS@@" + json.dumps(results))
'''


def rewrite(source: str, package: str) -> str:
    """`from opto...`/`import opto...` -> ``package`` (the compat layer; ``opto`` itself for Trace)."""
    if package == "opto":
        return source
    return IMPORT.sub(lambda m: f"{m.group(1)}{m.group(2)}{package}", source)


def run_file(path: Path, workdir: Path, timeout: float, package: str, python: str) -> list:
    target = workdir / path.name
    target.write_text(rewrite(path.read_text(), package))
    runner = workdir / "_section_runner.py"
    runner.write_text(RUNNER)
    try:
        done = subprocess.run([python, str(runner), str(target)], cwd=workdir, capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return [{"line": 0, "ok": False, "error": f"timed out after {timeout:g} s"}]
    marker = [line for line in done.stdout.splitlines() if line.startswith("@@RESULTS@@")]
    if not marker:
        return [{"line": 0, "ok": False, "error": (done.stderr or done.stdout).strip()[-300:]}]
    return json.loads(marker[-1][len("@@RESULTS@@"):])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="an unpacked trace-opt sdist (holds tests/unit_tests)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every failing section")
    parser.add_argument("-k", default="", help="only test files whose name holds this")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--package", default="trace_opt.compat.opto", help="what `opto` becomes (opto: Trace itself)")
    parser.add_argument("--python", default=sys.executable, help="the interpreter to run them with")
    args = parser.parse_args()
    tests = sorted((args.source / "tests" / "unit_tests").glob("test_*.py"))
    if not tests:
        parser.error(f"no tests/unit_tests/test_*.py under {args.source}")
    total = passed = 0
    print(f"{'file':32} {'sections':>8} {'passed':>7}")
    for path in tests:
        if args.k not in path.name:
            continue
        with tempfile.TemporaryDirectory() as workdir:
            results = run_file(path, Path(workdir), args.timeout, args.package, args.python)
        ok = sum(r["ok"] for r in results)
        total, passed = total + len(results), passed + ok
        print(f"{path.name:32} {len(results):8} {ok:7}")
        if args.verbose:
            for r in results:
                if not r["ok"]:
                    print(f"    line {r['line']}: {r['error']}")
                    for where in r.get("where", [])[:-1]:
                        print(f"        {where.strip()[:160]}")
    print(f"{'total':32} {total:8} {passed:7}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
