"""Trace's basic tutorial, ported by changing one import: nodes, bundles, tracing, feedback.

A Trace program reads ``from opto import trace``; here it reads
``from trace_opt.compat.opto import trace`` and nothing else changes. No LLM is used.

Run: .venv/bin/python examples/trace_basics.py
"""
from trace_opt.compat.opto import trace
from trace_opt.compat.opto.trace.utils import contain

# Nodes wrap values; operations on them are traced.
x = trace.node(1, name="node_x")
y = trace.node(3, name="node_y")
z = x / y
z2 = x / 3
assert contain(z.parents, x) and contain(z.parents, y) and contain(x.children, z)
print(f"z = {z.data:.3f}, computed from {[p.name for p in z.parents]}")


# A bundle is one traced operation: nodes in, a node out, its docstring the description.
@trace.bundle()
def add(a, b):
    """Add two numbers."""
    return a + b


w = add(x, y)
print(f"add(x, y) = {w.data}; description: {w.description!r}")

# Operations inside stop_tracing build no graph.
with trace.stop_tracing():
    plain = x + y
assert plain.inputs == {}

# Feedback flows backward to the trainable nodes that led to an output.
a = trace.node(2, name="a", trainable=True)
b = trace.node(5, name="b", trainable=True)
out = add(a * 2, b)
out.backward("The result should be even.")
for param in (a, b):
    for output, records in param.feedback.items():
        print(f"{param.name}: feedback {records[0].user_feedback!r} on {output.name} "
              f"through {len(records[0].graph)} nodes")

# An error inside a bundle becomes a node, ready to be feedback.
@trace.bundle()
def divide(p, q):
    return p / q


try:
    divide(x, trace.node(0))
except trace.ExecutionError as error:
    print(f"error as feedback: {error.exception_node.data}")
