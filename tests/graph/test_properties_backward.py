"""Property-based tests of backward: feedback on random workflows reaches exactly the trainable
parameters upstream of each output, with the subgraph that links them, and zero_feedback clears it.
"""
from hypothesis import given

from trace_opt.graph import Feedback

from .values import SETTINGS, same
from .workflows import build, workflows


@SETTINGS
@given(workflows())
def test_backward_reaches_exactly_the_trainable_ancestors(wf):
    nodes, params = build(wf)
    for out, fb in zip(wf.outputs, wf.feedback):
        nodes[out].backward(fb)
    for key, param in params.items():
        about = [out for out in wf.outputs if key in wf.params[out]]
        if key not in wf.trainable:
            assert param.feedback == []
            continue
        assert [r.output for r in param.feedback] == [nodes[out] for out in about]
        expected_feedback = [Feedback.coerce(fb) for out, fb in zip(wf.outputs, wf.feedback) if key in wf.params[out]]
        assert [r.feedback for r in param.feedback] == expected_feedback
        assert all(r.parameter is param for r in param.feedback)
        for record, out in zip(param.feedback, about):
            # The linking subgraph holds exactly the steps on a path from the parameter to the output.
            linked = record.subgraph()
            assert linked[0] is param and linked[-1] is nodes[out]
            ids = {id(n) for n in linked}
            on_path = {s for s in wf.upstream[out] if key in wf.params[s]}
            assert {s for s, n in enumerate(nodes) if id(n) in ids} == on_path
    reached = {id(p) for p in params.values() if p.feedback}
    expected = set().union(*(wf.params[out] for out in wf.outputs)) & wf.trainable
    assert reached == {id(params[key]) for key in expected}
    for param in params.values():
        param.zero_feedback()
    assert all(p.feedback == [] for p in params.values())
    assert all(same(n.data, v) for n, v in zip(nodes, wf.expected))  # the graph is intact after backward
