"""The report page: one self-contained HTML file (inline CSS and SVG, no script, no URL).

A Content-Security-Policy forbids scripts and outside fetches, so even text that slipped
past escaping could not run or call home.
"""
from __future__ import annotations

import datetime
from html import escape
from pathlib import Path
from typing import Any, Dict, List, Union

from . import values
from .graph import graph_section
from .run import Run, as_dict as _dict, load_run
from .search import search_sections
from .svg import Series, line_chart

REPORT = "report.html"
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_END_REASONS = {"done": "finished all epochs (a search: all its iterations)", "early_stop": "stopped early (no improvement)",
                "budget": "stopped by the budget", "interrupted": "interrupted", "error": "stopped by an error"}
_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1100px;
 padding:0 16px;color:#222}
h1{font-size:22px;margin-bottom:4px}h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:28px}
.meta{color:#555}.note{color:#8a5a00;background:#fff7e0;padding:6px 10px;border-radius:4px}
.charts{display:flex;flex-wrap:wrap;gap:12px}.chart{border:1px solid #e3e3e3;border-radius:4px;background:#fff}
.chart text{font-size:11px;fill:#333}.chart .title{font-size:13px;font-weight:600}
.chart .axis{stroke:#888}.chart .grid{stroke:#eee}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
th{background:#f5f5f5}td.left,th.left{text-align:left}
tr.rolled_back td{background:#fdecea}tr.accepted td.status{color:#1e7b34;font-weight:600}
tr.rolled_back td.status{color:#c0392b;font-weight:600}
pre{background:#f7f7f7;padding:8px;border-radius:4px;white-space:pre-wrap;word-break:break-word;margin:4px 0}
pre.code{background:#f4f6fa;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;
 white-space:pre;overflow-x:auto}
.diff .add{background:#e6ffec;display:block}.diff .del{background:#ffebe9;display:block}
.demos tr.add td{background:#e6ffec}.demos td{vertical-align:top}.demos pre{margin:0}
.diff .same{display:block;color:#555}
.value{font-family:ui-monospace,Menlo,Consolas,monospace}.value.old{color:#c0392b}.value.new{color:#1e7b34}
details{margin:4px 0}summary{cursor:pointer}.badge{font-size:11px;padding:1px 6px;border-radius:8px;color:#fff}
.badge.ok{background:#1e7b34}.badge.no{background:#c0392b}
.param{margin:10px 0 18px}.change{margin:6px 0 6px 12px}.change>.badge{display:inline-block;margin-bottom:2px}
.graph svg{max-width:100%;height:auto}
"""


def write_report(run_dir: Union[str, Path], out: Union[str, Path, None] = None) -> Path:
    """Write the run's HTML report (RUN_DIR/report.html unless ``out`` is given); returns its path."""
    run = load_run(run_dir)
    path = Path(out) if out is not None else Path(run_dir) / REPORT
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_page(run), encoding="utf-8")
    return path


def render_page(run: Run) -> str:
    """The whole page for a loaded run."""
    title = f"trace_opt run: {run.path.name}"
    if run.candidates:  # a ParetoSearch: its pool, not a line of steps
        body = [f"<h1>{escape(title)}</h1>", _summary(run), search_sections(run.candidates, run.iterations)]
    else:
        body = [f"<h1>{escape(title)}</h1>", _summary(run),
                "<h2>Scores, cost and tokens</h2>",
                '<div class="charts">' + _score_chart(run) + _usage_charts(run) + "</div>",
                "<h2>Steps</h2>", _steps(run),
                "<h2>Parameters</h2>", _parameters(run),
                "<h2>Last trace</h2>", graph_section(run.graph_json)]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def _summary(run: Run) -> str:
    start, end = run.start, run.end
    rows = [("agent", start.get("agent")), ("optimizer", start.get("optimizer")),
            ("started", _when(start.get("time"))), ("steps logged", len(run.steps))]
    if run.resumes:
        rows.append(("resumed from step", ", ".join(str(r) for r in run.resumes)))
    if end is None:
        rows.append(("end", "no run_end event: the run is still going, or was killed"))
    else:
        reason = end.get("reason")
        rows.append(("end", f"{reason} — {_END_REASONS.get(str(reason), 'unknown reason')}"))
        if end.get("message"):
            rows.append(("message", end.get("message")))
        rows.append(("best validation score", end.get("best_val_score")))
        rows.append(("ended", _when(end.get("time"))))
    if run.candidates:
        rows.append(("candidates", len(run.candidates)))
        rows.append(("iterations logged", len(run.iterations)))
    last = (run.steps or run.iterations)[-1:]
    if last:
        usage = _dict(last[0].get("usage"))
        rows.append(("LLM usage", f"{usage.get('calls', '?')} calls, {usage.get('total_tokens', '?')} tokens, "
                                  f"${_num(usage.get('cost_usd'), '.4f')}"))
    config = start.get("config")
    html = "<table class=\"summary\">" + "".join(
        f'<tr><th class="left">{escape(k)}</th><td class="left">{escape(_str(v))}</td></tr>' for k, v in rows)
    html += "</table>"
    if config:
        html += f"<details><summary>configuration</summary>{values.show(config)}</details>"
    return html


def _score_chart(run: Run) -> str:
    rolled = [s.get("step") for s in run.steps if s.get("rolled_back")]
    rolled_x = [x for x in rolled if isinstance(x, (int, float))]
    train = _points(run.steps, "train_score")
    val = _points(run.steps, "val_score")
    lines = [Series("train", train, "#2c7fb8"), Series("validation", val, "#e67e22", rolled_x)]
    return line_chart("Score per step", lines, y_label="score", mark_label="rolled back")


def _usage_charts(run: Run) -> str:
    cost = [(s.get("step"), _dict(s.get("usage")).get("cost_usd")) for s in run.steps]
    tokens = [(s.get("step"), _dict(s.get("usage")).get("total_tokens")) for s in run.steps]
    calls = [(s.get("step"), _dict(s.get("usage")).get("calls")) for s in run.steps]
    return (line_chart("Cumulative cost (USD)", [Series("cost", cost, "#8e44ad")], y_label="USD", from_zero=True)
            + line_chart("Cumulative tokens", [Series("tokens", tokens, "#16a085")], y_label="tokens",
                         from_zero=True)
            + line_chart("Cumulative LLM calls", [Series("calls", calls, "#7f8c8d")], y_label="calls", from_zero=True))


def _steps(run: Run) -> str:
    if not run.steps:
        return '<p class="note">No step was logged.</p>'
    head = ("<table><tr><th>step</th><th>epoch</th><th>train</th><th>validation</th><th>status</th>"
            "<th class=\"left\">reason</th><th>calls</th><th>tokens</th><th>cost (USD)</th><th>time (s)</th></tr>")
    rows, proposals = [], []
    for s in run.steps:
        status = "rolled back" if s.get("rolled_back") else "accepted" if s.get("accepted") else "not accepted"
        cls = "rolled_back" if s.get("rolled_back") else "accepted" if s.get("accepted") else ""
        usage = _dict(s.get("usage"))
        elapsed = _elapsed(run, s.get("time"))
        rows.append(f'<tr class="{cls}"><td>{escape(_str(s.get("step")))}</td><td>{escape(_str(s.get("epoch")))}</td>'
                    f'<td>{_num(s.get("train_score"))}</td><td>{_num(s.get("val_score"))}</td>'
                    f'<td class="status">{status}</td><td class="left">{escape(_str(s.get("reason") or ""))}</td>'
                    f'<td>{escape(_str(usage.get("calls")))}</td><td>{escape(_str(usage.get("total_tokens")))}</td>'
                    f'<td>{_num(usage.get("cost_usd"), ".4f")}</td><td>{elapsed}</td></tr>')
        proposals.append(_proposals(s))
    return head + "".join(rows) + "</table><h3>Proposals</h3>" + "".join(proposals)


def _proposals(step: Dict[str, Any]) -> str:
    items = step.get("proposals") if isinstance(step.get("proposals"), list) else []
    label = f"step {escape(_str(step.get('step')))}: {len(items)} proposal{'s' if len(items) != 1 else ''}"
    inner = []
    for p in items:
        p = _dict(p)
        badge = ('<span class="badge ok">accepted</span>' if p.get("accepted")
                 else '<span class="badge no">rejected</span>')
        reason = f" — {escape(_str(p.get('reason')))}" if p.get("reason") else ""
        inner.append(f'<div class="proposal"><b>{escape(_str(p.get("name")))}</b> {badge}{reason}'
                     f'{values.show(p.get("value"))}</div>')
    return f"<details><summary>{label}</summary>{''.join(inner) or '<p>none</p>'}</details>"


def _parameters(run: Run) -> str:
    names = list(_dict(run.start.get("parameters")))
    for step in run.steps:
        names += [n for n in _dict(step.get("parameters")) if n not in names]
    if not names:
        return '<p class="note">The log names no parameters.</p>'
    return "".join(_parameter(run, name) for name in names)


def _parameter(run: Run, name: str) -> str:
    """One parameter's history: its first value, then each kept change and each rejected
    proposal (collapsed) as a diff against the value it would have replaced."""
    start = _dict(run.start.get("parameters"))
    current, where = start.get(name), "start"
    if name not in start:
        first = next(s for s in run.steps if name in _dict(s.get("parameters")))
        current, where = _dict(first.get("parameters"))[name], f"step {_str(first.get('step'))}"
    parts = [f'<div class="param"><h3>{escape(name)}</h3><details><summary>value at {escape(where)}</summary>'
             f"{values.show(current)}</details>"]
    changed = False
    for step in run.steps:
        label = f"step {escape(_str(step.get('step')))}"
        for proposal in step.get("proposals") if isinstance(step.get("proposals"), list) else []:
            proposal = _dict(proposal)
            if proposal.get("name") == name and not proposal.get("accepted"):
                why = f": {escape(_str(proposal.get('reason')))}" if proposal.get("reason") else ""
                tag = "rolled back" if step.get("rolled_back") else "rejected"
                parts.append(f'<details class="change"><summary>{label}: proposal {tag}{why}</summary>'
                             f'{values.change(current, proposal.get("value"))}</details>')
        new = _dict(step.get("parameters")).get(name, current)
        if new != current:
            parts.append(f'<div class="change"><span class="badge ok">{label}: accepted</span> '
                         f"{values.change(current, new)}</div>")
            current, changed = new, True
    if not changed:
        parts.append("<p>unchanged during the run</p>")
    return "".join(parts) + "</div>"


def _points(steps: List[Dict[str, Any]], key: str) -> list:
    return [(s.get("step"), s.get(key)) for s in steps]


def _elapsed(run: Run, when: Any) -> str:
    t0 = run.t0
    return f"{when - t0:.1f}" if t0 is not None and isinstance(when, (int, float)) else ""


def _when(value: Any) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return ""
    return datetime.datetime.fromtimestamp(value, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _num(value: Any, spec: str = ".4g") -> str:
    return format(value, spec) if isinstance(value, (int, float)) and not isinstance(value, bool) else ""


def _str(value: Any) -> str:
    return "" if value is None else str(value)

