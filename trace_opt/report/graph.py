"""The run's last trace (RUN_DIR/graph.json) drawn by Graphviz and inlined as sanitized SVG.

Node labels hold LLM text, so the SVG is parsed and only drawing elements and attributes are
kept (no script, no event handlers, no outside links); failures become a note, not a crash.
"""
from __future__ import annotations

import re
import tempfile
import xml.etree.ElementTree as ET
from html import escape
from pathlib import Path
from typing import Optional

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
_DRAWING = {"svg", "g", "title", "path", "polygon", "polyline", "ellipse", "circle", "line", "rect", "text",
            "tspan", "desc"}
_SAFE_ATTR = re.compile(r"^(id|class|x|y|x1|y1|x2|y2|cx|cy|r|rx|ry|d|points|width|height|viewBox|transform|"
                        r"fill|stroke|stroke-width|stroke-dasharray|font-family|font-size|font-weight|"
                        r"font-style|text-anchor|opacity|fill-opacity|stroke-opacity|preserveAspectRatio)$")


def graph_section(graph_json: Optional[str]) -> str:
    """HTML for the trace: the inline SVG, or a note saying why there is none."""
    if graph_json is None:
        return '<p class="note">This run has no graph.json: the trainer wrote no trace.</p>'
    try:
        from ..graph import from_json, render

        output = from_json(graph_json)
        with tempfile.TemporaryDirectory(prefix="trace_opt_report_") as tmp:
            path = render(output, Path(tmp) / "trace.svg")
            svg = path.read_text(encoding="utf-8")
    except Exception as error:  # a missing Graphviz, torch for a tensor, or a damaged file
        return f'<p class="note">The trace could not be drawn: {escape(str(error))}</p>'
    try:
        return f'<div class="graph">{sanitize_svg(svg)}</div>'
    except ET.ParseError as error:
        return f'<p class="note">Graphviz wrote SVG that could not be read: {escape(str(error))}</p>'


def sanitize_svg(svg: str) -> str:
    """SVG text reduced to drawing elements and presentational attributes, as one <svg> element."""
    root = ET.fromstring(svg)
    _clean(root)
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", XLINK_NS)
    return ET.tostring(root, encoding="unicode")


def _clean(element: ET.Element) -> None:
    for child in list(element):
        if _local(child.tag) not in _DRAWING:
            element.remove(child)
        else:
            _clean(child)
    for name in list(element.attrib):
        if not _SAFE_ATTR.match(_local(name)) or "url(" in element.attrib[name].replace(" ", "").lower():
            del element.attrib[name]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""
