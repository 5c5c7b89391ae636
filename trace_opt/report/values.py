"""Parameter values from the log shown as HTML, and one value's change as a line diff.

Values are LLM output: everything is HTML-escaped here, nothing is trusted.
"""
from __future__ import annotations

import difflib
import json
from html import escape
from typing import Any, List

_CODE_STARTS = ("def ", "async def ", "class ", "@", "import ", "from ", "lambda")


def is_demos(value: Any) -> bool:
    """A to.Demos value as logged: a non-empty list of [input, output] pairs of text."""
    return isinstance(value, list) and bool(value) and all(
        isinstance(d, list) and len(d) == 2 and all(isinstance(x, str) for x in d) for d in value)


def kind_of(value: Any) -> str:
    """What the log value holds: tensor (a summary), number, code, text, demos, or json."""
    if is_demos(value):
        return "demos"
    if isinstance(value, dict) and "tensor" in value and "norm" in value:
        return "tensor"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "number"
    if isinstance(value, str):
        return "code" if value.lstrip().startswith(_CODE_STARTS) else "text"
    return "json"


def as_text(value: Any) -> str:
    """The value as plain text (JSON for structures), before escaping."""
    if isinstance(value, str):
        return value
    if kind_of(value) == "tensor":
        return f"tensor {value.get('tensor')} {value.get('dtype', '')} norm={value.get('norm')}"
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=repr)


def show(value: Any) -> str:
    """One value as HTML: code and text in <pre>, numbers and tensor summaries inline."""
    kind = kind_of(value)
    if kind == "demos":
        return demos_table(value)
    if kind in ("number", "tensor"):
        return f'<span class="value {kind}">{escape(as_text(value))}</span>'
    tag = '<pre class="code"><code>' if kind == "code" else f'<pre class="{kind}">'
    end = "</code></pre>" if kind == "code" else "</pre>"
    return f"{tag}{escape(as_text(value))}{end}"


def change(old: Any, new: Any) -> str:
    """The change from old to new as HTML: a line diff for text, code and JSON, old → new
    for numbers and tensor summaries."""
    kinds = {kind_of(old), kind_of(new)}
    if "demos" in kinds:  # the new set as a table, each demonstration it did not have before marked
        return demos_table(new if is_demos(new) else [], before=old if is_demos(old) else [])
    if kinds <= {"number", "tensor"}:
        return (f'<span class="value old">{escape(as_text(old))}</span> → '
                f'<span class="value new">{escape(as_text(new))}</span>')
    lines = _diff_lines(as_text(old), as_text(new))
    cls = "diff code" if "code" in kinds else "diff"
    return f'<pre class="{cls}">' + "".join(lines) + "</pre>"  # each line is a block


def demos_table(demos: List[List[str]], before: Any = None) -> str:
    """Demonstrations as a table: one row per (input, output); with ``before``, new rows marked."""
    if not demos:
        return '<p class="note">no demonstrations</p>'
    rows = "".join(
        f'<tr class="{"add" if before is not None and d not in before else "same"}"><td>{i + 1}</td>'
        f'<td><pre class="text">{escape(d[0])}</pre></td><td><pre class="text">{escape(d[1])}</pre></td></tr>'
        for i, d in enumerate(demos))
    return f'<table class="demos"><tr><th>#</th><th>input</th><th>output</th></tr>{rows}</table>'


def _diff_lines(old: str, new: str) -> List[str]:
    out = []
    for line in difflib.ndiff(old.splitlines(), new.splitlines()):
        mark, text = line[:1], line[2:]
        if mark == "?":
            continue  # ndiff's intraline hints: noise once colours show the change
        cls = {"-": "del", "+": "add"}.get(mark, "same")
        out.append(f'<span class="{cls}">{escape(mark if mark != " " else " ")} {escape(text)}</span>')
    return out
