"""The HTML report of a synthetic run: curves, escaped LLM text, diffs, the trace, no script."""
import re
import shutil

import pytest

from trace_opt.report import write_report
from trace_opt.report.graph import sanitize_svg
from trace_opt.report.svg import Series, line_chart

from .synthetic import CODE_1, HOSTILE, make_run

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")


@pytest.fixture
def page(run_dir):
    path = write_report(run_dir)
    assert path == run_dir / "report.html"
    return path.read_text(encoding="utf-8")


def test_report_is_self_contained_and_has_no_script(page):
    assert "<script" not in page.lower()
    assert not re.search(r"\son\w+\s*=", page)           # no event handler attributes
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", page)  # nothing fetched from outside
    assert "Content-Security-Policy" in page and "default-src 'none'" in page


def test_hostile_log_text_is_escaped(page):
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;/details&gt;" in page
    assert HOSTILE not in page
    assert page.count("<details") == page.count("</details>")  # the LLM's </details> closed nothing


def test_score_and_usage_curves_are_svg(page):
    assert page.count('<svg class="chart"') == 4
    assert "Score per step" in page and "rolled back" in page
    assert "Cumulative cost (USD)" in page and "Cumulative tokens" in page
    assert re.search(r'<polyline [^>]*points="[\d.]+,[\d.]+ [\d.]+,[\d.]+ [\d.]+,[\d.]+"', page)  # 3 steps


def test_parameter_history_shows_diffs_of_each_kind(page):
    assert '<span class="add">+ Reply with the number only.</span>' in page            # text
    assert '<pre class="diff code">' in page and "<span class=\"del\">-     return reply.strip()</span>" in page
    assert "lines = reply.strip().splitlines()" in page                                  # code
    assert '<span class="value old">0.7</span> → <span class="value new">0.3</span>' in page   # number
    assert "norm=0.0</span> → <span class=\"value new\">tensor [3] float32 norm=1.25" in page  # tensor summary
    assert "step 2: proposal rolled back: validation fell" in page                      # the rejected proposal


def test_steps_marked_and_end_reason_shown(page):
    assert page.count('<tr class="rolled_back">') == 1 and page.count('<tr class="accepted">') == 2
    assert "early_stop — stopped early" in page and "no improvement for 2 steps" in page
    assert re.search(r"<summary>step 1: 2 proposals</summary>", page)
    assert "def extract(self, reply):\n    lines" in page.replace("&#x27;", "'")  # code kept as written
    assert CODE_1.splitlines()[1].strip() in page


@needs_dot
def test_last_trace_is_inline_svg_without_script(page):
    graph = page[page.index("<h2>Last trace</h2>"):]
    assert '<div class="graph"><svg' in graph
    assert "param:0" in graph and "ask:0" in graph
    assert "&lt;script&gt;alert(1)" in graph and "<script" not in graph


def test_missing_graph_is_said(tmp_path):
    page = write_report(make_run(tmp_path / "run", graph=False)).read_text(encoding="utf-8")
    assert "This run has no graph.json" in page


def test_out_path_and_a_run_without_end(tmp_path, run_dir):
    lines = (run_dir / "events.jsonl").read_text(encoding="utf-8").splitlines()
    (run_dir / "events.jsonl").write_text("\n".join(lines[:-1]) + '\n{"event": "step", "ste', encoding="utf-8")
    out = write_report(run_dir, tmp_path / "elsewhere" / "r.html")
    assert out == tmp_path / "elsewhere" / "r.html"
    assert "no run_end event: the run is still going, or was killed" in out.read_text(encoding="utf-8")


def test_directory_without_events_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path)) + ".*events.jsonl"):
        write_report(tmp_path)


def test_sanitize_svg_keeps_drawing_and_drops_active_content():
    hostile = ('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script>'
               '<g><text x="1" onclick="alert(3)">hi</text><foreignObject><p>x</p></foreignObject>'
               '<a href="javascript:alert(4)"><rect width="1"/></a><rect fill="url(http://evil/x)"/></g></svg>')
    clean = sanitize_svg(hostile)
    assert "<text" in clean and ">hi<" in clean
    for bad in ("alert", "foreignObject", "javascript", "evil", "<script"):
        assert bad not in clean


def test_line_chart_copes_with_missing_and_flat_data():
    assert "no data" in line_chart("empty", [Series("a", [(1, None), (2, float("nan"))], "#000")])
    flat = line_chart("flat", [Series("a", [(1, 0.5)], "#000")])
    assert "<circle" in flat and "nan" not in flat.lower()
    assert "&lt;b&gt;" in line_chart("<b>", [Series("<b>", [(1, 1), (2, 2)], "#000")])


def test_without_graphviz_the_trace_section_says_what_is_missing(run_dir, monkeypatch):
    import trace_opt.graph.export as export

    monkeypatch.setattr(export.shutil, "which", lambda name: None)
    page = write_report(run_dir).read_text(encoding="utf-8")
    assert "The trace could not be drawn" in page and "graphviz" in page.lower()
    assert '<div class="graph">' not in page


def test_a_resumed_run_counts_the_later_copy_of_a_repeated_step(run_dir):
    from trace_opt.train.events import EventLog

    log = EventLog(run_dir)
    log.write("run_start", agent="Solver", optimizer="OptoPrime", config={}, parameters={}, resumed_from=2)
    log.write("step", epoch=2, step=3, train_score=0.9, val_score=0.95, accepted=True, rolled_back=False,
              reason=None, usage={"calls": 12, "total_tokens": 5000, "cost_usd": 0.01}, parameters={}, proposals=[])
    page = write_report(run_dir).read_text(encoding="utf-8")
    assert re.search(r"resumed from step</th><td[^>]*>2<", page)
    assert "<td>0.95</td>" in page and "<td>0.6</td>" not in page


def test_demonstrations_show_as_a_table_with_new_rows_marked():
    from trace_opt.report import values

    old = [["Ana moved to Vienna.", "Vienna"]]
    new = old + [["<b>Omar</b> lives in Bergen.", "Bergen"]]
    table = values.show(new)
    assert table.startswith('<table class="demos">') and table.count("<tr") == 3
    assert "&lt;b&gt;Omar&lt;/b&gt;" in table and "<b>" not in table  # LLM text stays escaped
    changed = values.change(old, new)
    assert changed.count('class="add"') == 1 and changed.count('class="same"') == 1
    assert values.kind_of([]) == "json" and values.kind_of([["a", "b", "c"]]) == "json"
