"""The trace as a problem statement for an LLM optimizer, within a token budget.

The subgraph linking the parameters to the outputs is rendered as code (one line per
operation), with the documentation of each operation, the variables to change, the inputs,
the intermediate values, the outputs and the feedback. Whatever the size of the graph the
prompt stays within ``max_tokens``: values are truncated first, then operations far from both
the variables and the outputs are left out (a line says how many, and of which kinds). The
variables and the feedback are never left out. Building is linear in the subgraph's size.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from ...graph import FeedbackRecord, MessageNode, Node, Parameter, linking_subgraph, upstream
from .tokens import estimate_tokens, fit_tokens, preview, elide

VALUE_WIDTHS = (240, 100, 40)  # characters per intermediate value, tried in turn
OUTPUT_WIDTH = 400
INLINE_WIDTH = 24  # constants this short are written into the code line itself
MARKER_TOKENS = 32  # what one "... N operations left out ..." line may cost (its text is capped to fit)
MAX_ARGS = 10  # inputs written out per operation; the rest are counted
MEMORY_TITLE = "#Earlier steps (variables tried and the feedback they got)"
SECTION_TITLES = f"#Instruction #Code #Documentation #Variables #Inputs #Others #Outputs #Feedback {MEMORY_TITLE}"


class PromptTooLarge(ValueError):
    """The variables and the feedback alone do not fit the prompt budget."""


@dataclass
class Problem:
    """The sections of the prompt, already rendered and within budget."""

    instruction: str
    variables: List[str]
    code: List[str]
    documentation: List[str]
    inputs: List[str]
    others: List[str]
    outputs: List[str]
    feedback: str
    memory: List[str] = field(default_factory=list)
    left_out: int = 0

    def render(self) -> str:
        parts = [f"#Instruction\n{self.instruction}"]
        for title, lines in (("#Code", self.code), ("#Documentation", self.documentation),
                             ("#Variables", self.variables), ("#Inputs", self.inputs),
                             ("#Others", self.others), ("#Outputs", self.outputs)):
            if lines:
                parts.append(title + "\n" + "\n".join(lines))
        parts.append(f"#Feedback\n{self.feedback}")
        if self.memory:
            parts.append(MEMORY_TITLE + "\n" + "\n".join(self.memory))
        return "\n\n".join(parts)


def variable_line(key: str, param: Parameter, width: Optional[int] = None) -> str:
    """One variable: its kind and limits, its description, and its current value (whole)."""
    kind = param.kind
    if kind == "number" and param.bounds:
        low, high = param.bounds
        kind += f", {'integer ' if param.spec.integer else ''}between {low} and {high}"
    elif kind == "categorical":
        kind += f", one of {list(param.choices)}"
    notes = "; ".join(x for x in (param.description, f"constraint: {param.constraint}" if param.constraint else "") if x)
    value = param.data if param.kind == "code" else repr(param.data)
    if width is not None:
        value = elide(str(value), width)
    sep = "\n" if "\n" in str(value) else " "
    return f"({kind}) {key}{f'  # {notes}' if notes else ''}\n{key} ={sep}{value}"


def build_problem(keys: Dict[Parameter, str], records: Sequence[FeedbackRecord], *, instruction: str,
                  max_tokens: int, memory: Sequence[str] = (), reserved_tokens: int = 0) -> Problem:
    """Render the step's trace as a Problem whose prompt estimate is at most ``max_tokens``."""
    outputs: List[Node] = []
    feedback_by_output: Dict[Node, List[str]] = {}
    for record in records:
        if record.output not in feedback_by_output:
            outputs.append(record.output)
            feedback_by_output[record.output] = []
        text = str(record.feedback)
        if text not in feedback_by_output[record.output]:
            feedback_by_output[record.output].append(text)
    nodes = linking_subgraph(outputs, list(keys))
    labels = _labels(nodes, keys)

    budget = max_tokens - reserved_tokens
    variables = [variable_line(keys[p], p) for p in keys]
    fixed = estimate_tokens(instruction) + sum(estimate_tokens(v) + 1 for v in variables) + 120
    if fixed > budget:
        raise PromptTooLarge(f"the variables alone need about {fixed} tokens, over the prompt budget of {budget}")
    feedback = fit_tokens(_feedback_text(outputs, feedback_by_output, labels), max((budget - fixed) * 3 // 4, 1))
    fixed += estimate_tokens(feedback) + 1
    output_lines = _output_lines(outputs, labels, budget - fixed)
    fixed += sum(estimate_tokens(line) + 1 for line in output_lines)
    kept_memory: List[str] = []
    for line in reversed(memory):  # newest first, while it fits
        cost = estimate_tokens(line) + 1
        if fixed + cost > budget * 0.85:
            break
        kept_memory.insert(0, line)
        fixed += cost

    entries = _entries(nodes, keys, labels, set(outputs))
    code, docs, inputs, others, left_out = _select(entries, budget - fixed)
    problem = Problem(instruction, variables, code, docs, inputs, others, output_lines, feedback, kept_memory, left_out)
    if estimate_tokens(problem.render()) + reserved_tokens > max_tokens:  # the estimates are additive: never expected
        problem.code, problem.documentation, problem.inputs, problem.others = [], [], [], []
    return problem


@dataclass
class _Entry:
    """One operation: its code line, the values shown with it, and how central it is."""

    node: MessageNode
    priority: int
    code: str
    doc: str
    inputs: List[Tuple[str, str]]  # (label, repr) of values fed in from outside the subgraph
    other: Optional[Tuple[str, str]]  # (label, repr) of the node's own value, for intermediate nodes


def _labels(nodes: List[Node], keys: Dict[Parameter, str]) -> Dict[Node, str]:
    counts: Counter = Counter()
    labels: Dict[Node, str] = {}
    for current in nodes:
        if current in keys:
            labels[current] = keys[current]
            continue
        base = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in current.name) or "value"
        labels[current] = f"{base}{counts[base]}"
        counts[base] += 1
    return labels


def _output_lines(outputs: List[Node], labels: Dict[Node, str], budget: int) -> List[str]:
    """The outputs' values, narrower when they are many; past half the budget, a count stands for the rest."""
    for width in (OUTPUT_WIDTH, 40):
        lines = [f"{labels[o]} = {elide(preview(o.data), width)}" for o in outputs]
        if sum(estimate_tokens(line) + 1 for line in lines) <= budget // 2:
            return lines
    kept, spent = [], 0
    for line in lines:
        spent += estimate_tokens(line) + 1
        if spent > budget // 2 - MARKER_TOKENS:
            break
        kept.append(line)
    return kept + [f"... and {len(lines) - len(kept)} more outputs"]


def _feedback_text(outputs: List[Node], feedback: Dict[Node, List[str]], labels: Dict[Node, str]) -> str:
    if len(outputs) == 1:
        return "\n".join(feedback[outputs[0]])
    return "\n".join(f"On {labels[o]}: {text}" for o in outputs for text in feedback[o])


def _entries(nodes: List[Node], keys: Dict[Parameter, str], labels: Dict[Node, str], outputs: set) -> List[_Entry]:
    in_graph = set(nodes)
    from_params: Dict[Node, float] = {}
    for current in nodes:
        if current in keys:
            from_params[current] = 0
        else:
            from_params[current] = min((from_params[p] + 1 for p in upstream(current) if p in in_graph), default=math.inf)
    to_outputs: Dict[Node, float] = {n: (0 if n in outputs else math.inf) for n in nodes}
    for current in reversed(nodes):
        for parent in upstream(current):
            if parent in in_graph and to_outputs[current] + 1 < to_outputs[parent]:
                to_outputs[parent] = to_outputs[current] + 1
    entries = []
    extra_labels: Dict[Node, str] = {}
    for current in nodes:
        if not isinstance(current, MessageNode) or current in keys:
            continue
        args, input_lines = [], []
        for name, parent in current.inputs.items():
            if parent in labels:
                args.append(f"{name}={labels[parent]}")
                continue
            shown = preview(parent.data)
            if len(shown) <= INLINE_WIDTH:
                args.append(f"{name}={shown}")
            else:
                label = extra_labels.setdefault(parent, f"{labels[current]}_{name}".replace("[", "_").replace("]", ""))
                args.append(f"{name}={label}")
                input_lines.append((label, shown))
        if len(args) > MAX_ARGS:  # an operation with many inputs still costs one short line
            args = args[: MAX_ARGS - 2] + [f"... {len(args) - MAX_ARGS + 1} more inputs ..."] + args[-1:]
            input_lines = input_lines[:MAX_ARGS]
        code = f"{labels[current]} = {current.op.name}({', '.join(args)})"
        description = " ".join(current.description.split())
        if not description.startswith(f"[{current.op.name}]"):
            description = f"[{current.op.name}] {description}"
        doc = elide(description, 200)
        other = None if current in outputs else (labels[current], preview(current.data))
        priority = int(min(from_params[current], to_outputs[current]))
        entries.append(_Entry(current, priority, code, doc, input_lines, other))
    return entries


def _value_line(labelled: Tuple[str, str], width: int) -> str:
    label, shown = labelled
    return f"{label} = {elide(shown, width)}"


def _select(entries: List[_Entry], budget: int):
    """Keep as many operations as fit, most central first; values narrower before any is left out."""
    for width in VALUE_WIDTHS:
        costs = [_cost(e, width) for e in entries]
        docs = {e.doc for e in entries}
        total = sum(costs) + sum(estimate_tokens(d) + 1 for d in docs)
        if total <= budget:
            return _render(entries, [True] * len(entries), width)
    width = VALUE_WIDTHS[-1]
    order = sorted(range(len(entries)), key=lambda i: entries[i].priority)  # stable: topological within a priority
    keep = [False] * len(entries)
    seen_docs: set = set()
    gaps = 1 if entries else 0  # runs of left-out operations, one marker line each
    spent = MARKER_TOKENS * gaps
    last = len(entries) - 1
    for i in order:
        entry = entries[i]
        cost = _cost(entry, width)
        if entry.doc not in seen_docs:
            cost += estimate_tokens(entry.doc) + 1
        left_out_before = i > 0 and not keep[i - 1]
        left_out_after = i < last and not keep[i + 1]
        change = 1 if (left_out_before and left_out_after) else (-1 if not (left_out_before or left_out_after) else 0)
        cost += MARKER_TOKENS * change
        if spent + cost > budget:
            continue
        spent += cost
        gaps += change
        seen_docs.add(entry.doc)
        keep[i] = True
    return _render(entries, keep, width)


def _cost(entry: _Entry, width: int) -> int:
    cost = estimate_tokens(entry.code) + 1
    for line in entry.inputs:
        cost += estimate_tokens(_value_line(line, width)) + 1
    if entry.other:
        cost += estimate_tokens(_value_line(entry.other, width)) + 1
    return cost


def _render(entries: List[_Entry], keep: List[bool], width: int):
    code, docs, inputs, others = [], [], [], []
    seen_docs = set()
    gap: Counter = Counter()
    left_out = 0

    def flush_gap() -> None:
        if gap:
            count = sum(gap.values())
            kinds = elide(", ".join(f"{name} ×{n}" for name, n in gap.most_common(3)), 48)
            code.append(f"# ... {count} operations left out here ({kinds}) ...")
            gap.clear()

    for entry, kept in zip(entries, keep):
        if not kept:
            gap[entry.node.op.name] += 1
            left_out += 1
            continue
        flush_gap()
        code.append(entry.code)
        if entry.doc not in seen_docs:
            seen_docs.add(entry.doc)
            docs.append(entry.doc)
        inputs.extend(_value_line(line, width) for line in entry.inputs)
        if entry.other:
            others.append(_value_line(entry.other, width))
    flush_gap()
    return code, docs, inputs, others, left_out
