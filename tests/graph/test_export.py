"""Export: networkx, JSON and Graphviz."""
import shutil

import networkx as nx
import pytest

import trace_opt as to
from trace_opt.graph import from_json, to_json, to_networkx


def _trace():
    prompt = to.Parameter("Be brief.", name="prompt")
    question = to.node("What is 3 * 4?", name="question")
    other = prompt + " unrelated"
    out = (prompt + "\n" + question).upper()
    return prompt, question, other, out


def test_to_networkx_holds_the_output_and_its_ancestors_only():
    prompt, question, other, out = _trace()
    graph = to_networkx(out)
    assert isinstance(graph, nx.DiGraph) and nx.is_directed_acyclic_graph(graph)
    nodes = {data["node"] for _, data in graph.nodes(data=True)}
    assert out in nodes and prompt in nodes and question in nodes and other not in nodes
    label = {data["node"]: key for key, data in graph.nodes(data=True)}
    assert graph.has_edge(label[prompt], label[out.parents[0].parents[0].parents[0]])  # parent -> child
    assert graph.graph["output"] == label[out] and graph.out_degree(label[out]) == 0


def test_json_round_trip_keeps_structure_and_values():
    prompt, _, _, out = _trace()
    text = to_json(out)
    back = from_json(text)
    assert back.data == out.data
    assert [n.name for n in to.graph.topological_order([back])] == [n.name for n in to.graph.topological_order([out])]
    params = [n for n in to.graph.ancestors(back) if isinstance(n, to.Parameter)]
    assert len(params) == 1 and params[0].data == "Be brief."
    assert to_json(back) == text


def test_exports_reject_non_nodes():
    with pytest.raises(TypeError, match="to_networkx\\(\\) needs a trace_opt Node"):
        to_networkx("text")
    with pytest.raises(TypeError, match="to_json"):
        to_json(3)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_render_writes_an_svg(tmp_path):
    *_, out = _trace()
    path = to.graph.render(out, tmp_path / "trace.svg")
    svg = path.read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "prompt:0" in svg


def test_render_without_dot_names_the_package_to_install(tmp_path, monkeypatch):
    *_, out = _trace()
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="install Debian's 'graphviz' package"):
        to.graph.render(out, tmp_path / "trace.svg")
