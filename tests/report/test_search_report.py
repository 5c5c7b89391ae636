"""The report of a ParetoSearch run (scripted fake mutation operator): lineage, front, diffs."""
import re

from trace_opt.report.page import write_report
from trace_opt.train import ParetoSearch

from ..train.fakes import STYLE_ROWS, ScriptedMutation, Styler, exact


def test_search_report_shows_lineage_front_and_each_candidates_diff(tmp_path):
    agent = Styler()
    ParetoSearch(agent, ScriptedMutation(agent, [{"case": "upper"}, {"mark": "!"}]), STYLE_ROWS, STYLE_ROWS, exact,
                 minibatch_size=len(STYLE_ROWS), max_iterations=3, seed=4, checkpoint_dir=tmp_path,
                 progress=False).fit()
    page = write_report(tmp_path).read_text(encoding="utf-8")
    lineage = page[page.index("<h2>Lineage</h2>"):page.index("<h2>Front")]
    # the seed at the root, both mutations under it, the merge under its first parent naming its second
    assert re.search(r"#0 seed.*<ul><li>#1 mutation.*<ul><li>#3 merge .*\(merged with #2\).*<li>#2 mutation",
                     lineage)
    front = page[page.index("<h2>Front"):page.index("<h2>Iterations")]
    assert front.count("<circle") >= 4 and "cost per rollout (tokens)" in front
    candidates = page[page.index("<h2>Candidates</h2>"):]
    assert candidates.count("<details>") == 4
    assert "mark (against #1)" in candidates and 'class="add"' in candidates  # the merge's diff: the mark it took
    assert "<script" not in page
