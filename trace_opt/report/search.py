"""The report's sections for a ParetoSearch run: the lineage tree, the front of score against
cost, and each candidate's diff against the parent it came from.

Read from the run's ``candidate`` and ``iteration`` events; every value is escaped.
"""
from __future__ import annotations

from html import escape
from typing import Any, Dict, List

from ..train import pareto_front
from . import values
from .svg import scatter_chart


def search_sections(candidates: List[Dict[str, Any]], iterations: List[Dict[str, Any]]) -> str:
    """The HTML of the search's sections, or an empty string for a run that is not a search."""
    if not candidates:
        return ""
    by_id = {c.get("id"): c for c in candidates}
    return ("<h2>Lineage</h2>" + _lineage(by_id)
            + "<h2>Front: validation score against cost</h2>" + _front(candidates)
            + "<h2>Iterations</h2>" + _iterations(iterations)
            + "<h2>Candidates</h2>" + "".join(_candidate(c, by_id) for c in candidates))


def _cost(candidate: Dict[str, Any]) -> float:
    usd = candidate.get("cost_usd") or 0.0
    return usd if usd > 0 else float(candidate.get("tokens") or 0.0)


def _label(candidate: Dict[str, Any]) -> str:
    score = candidate.get("score")
    shown = f"{score:.3g}" if isinstance(score, (int, float)) else "?"
    return f"#{candidate.get('id')} {candidate.get('origin', '?')} · val {shown}"


def _lineage(by_id: Dict[Any, Dict[str, Any]]) -> str:
    """A nested list: each candidate under its first parent (a merge names its second parent too)."""
    children: Dict[Any, List[Any]] = {}
    roots = []
    for cid, c in by_id.items():
        parents = c.get("parents") or []
        (children.setdefault(parents[0], []) if parents and parents[0] in by_id else roots).append(cid)

    def branch(cid: Any) -> str:
        c = by_id[cid]
        also = [p for p in (c.get("parents") or [])[1:]]
        extra = f" (merged with #{', #'.join(str(p) for p in also)})" if also else ""
        kids = "".join(branch(k) for k in children.get(cid, []))
        return f"<li>{escape(_label(c) + extra)}" + (f"<ul>{kids}</ul>" if kids else "") + "</li>"

    return '<ul class="lineage">' + "".join(branch(r) for r in roots) + "</ul>"


def _front(candidates: List[Dict[str, Any]]) -> str:
    points = {c.get("id"): (float(c.get("score") or 0.0), _cost(c)) for c in candidates}
    ranks = pareto_front.pareto_ranks({i: (s, -cost) for i, (s, cost) in points.items()})
    front = set(ranks[0]) if ranks else set()
    unit = "USD" if any((c.get("cost_usd") or 0) > 0 for c in candidates) else "tokens"
    return scatter_chart("Candidates", [(cost, s, f"#{i}") for i, (s, cost) in points.items()],
                         highlight=[f"#{i}" for i in front], x_label=f"cost per rollout ({unit})",
                         y_label="validation score", highlight_label="front")


def _iterations(iterations: List[Dict[str, Any]]) -> str:
    head = ('<table><tr><th>iteration</th><th class="left">kind</th><th class="left">parents</th>'
            '<th>parent (minibatch)</th><th>child (minibatch)</th><th class="left">result</th></tr>')
    rows = []
    for it in iterations:
        result = f"candidate #{it['child']}" if it.get("accepted") else (it.get("reason") or "no child")
        rows.append(f"<tr><td>{escape(str(it.get('iteration')))}</td><td class=\"left\">{escape(str(it.get('kind')))}"
                    f"</td><td class=\"left\">{escape(', '.join(f'#{p}' for p in it.get('parents') or []))}</td>"
                    f"<td>{_score(it.get('parent_score'))}</td><td>{_score(it.get('child_score'))}</td>"
                    f"<td class=\"left\">{escape(str(result))}</td></tr>")
    return head + "".join(rows) + "</table>"


def _candidate(c: Dict[str, Any], by_id: Dict[Any, Dict[str, Any]]) -> str:
    parents = c.get("parents") or []
    base = by_id.get(parents[0]) if parents else None
    inner = []
    new_values = c.get("values") or {}
    if base is None:
        inner += [f"<h4>{escape(name)}</h4>{values.show(value)}" for name, value in new_values.items()]
    else:
        old_values = base.get("values") or {}
        for name in c.get("changed") or [n for n in new_values if new_values[n] != old_values.get(n)]:
            inner.append(f"<h4>{escape(name)} (against #{escape(str(parents[0]))})</h4>"
                         + values.change(old_values.get(name), new_values.get(name)))
    cost = f"{c.get('tokens', 0):.0f} tokens, ${c.get('cost_usd', 0):.5f}, {c.get('seconds', 0):.2f} s per rollout"
    return (f"<details><summary>{escape(_label(c))} — {escape(cost)}</summary>"
            + ("".join(inner) or "<p>no parameter changed</p>") + "</details>")


def _score(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else ""
