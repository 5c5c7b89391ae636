"""TextGrad: textual gradients per node, in reverse topological order, then one update.

After "TextGrad: Automatic Differentiation via Text" (Yuksekgonul et al., 2024): the feedback
on an output is the gradient of that output; for each operation, from the outputs back to
the parameters, the LLM says how each input should change (the input's gradient, given the
operation, its values and its output's gradient). Each parameter's gradients then go into
one update call. The number of gradient calls is bounded by ``max_gradient_calls``: past
it, only the operations that consume a parameter get a gradient, from the outputs' feedback.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from pydantic import Field, create_model

from ...graph import MessageNode, Node, Parameter, linking_subgraph
from ..feedback import feedback_records
from .base import Candidate, LLMOptimizer
from .code_check import CodeTrial
from .problem import variable_line
from .suggestions import REPLY_INSTRUCTIONS, variable_keys
from .tokens import WHOLE_VALUE_CHARS, fit_tokens, preview, elide

GRADIENT_SYSTEM = ("You give feedback on the inputs of one step of a program: how each input should change "
                   "so that the step's output better satisfies the feedback on it. Be brief and specific.")
UPDATE_SYSTEM = "You improve variables of a program, given feedback on each of them."
VALUE_WIDTH = 300


class TextGrad(LLMOptimizer):
    """LLM optimizer by textual gradients (one LLM call per operation, bounded, plus one update)."""

    default_prompt_tokens = 1200   # short prompts, one per operation or step
    scaffolding = UPDATE_SYSTEM + " " + GRADIENT_SYSTEM

    def __init__(self, params: Any, llm: Any = None, *, max_gradient_calls: int = 8, num_candidates: int = 1,
                 candidate_temperature: float = 0.8, memory_size: int = 0, objective: Optional[str] = None,
                 max_prompt_tokens: Optional[int] = None, code_trial: Optional[CodeTrial] = None) -> None:
        super().__init__(params, llm, num_candidates=num_candidates, candidate_temperature=candidate_temperature,
                         memory_size=memory_size, objective=objective, code_trial=code_trial,
                         max_prompt_tokens=max_prompt_tokens)
        if not isinstance(max_gradient_calls, int) or max_gradient_calls < 1:
            raise ValueError(f"max_gradient_calls must be a positive int, got {max_gradient_calls!r}")
        self.max_gradient_calls = max_gradient_calls
        self.last_gradients: Dict[str, List[str]] = {}

    def propose(self, params: List[Parameter], count: int, notes: List[str]) -> List[Candidate]:
        gradients = self.gradients(params)
        self.last_gradients = {p.name: g for p, g in gradients.items()}
        keys = variable_keys(params)
        lines = [self.objective, ""]
        for param, key in keys.items():
            lines.append(variable_line(key, param, width=WHOLE_VALUE_CHARS))
            lines += [f"  feedback: {elide(g, 400)}" for g in gradients.get(param, [])] or ["  feedback: (none)"]
        lines += notes + ["", REPLY_INSTRUCTIONS]
        messages = [{"role": "system", "content": UPDATE_SYSTEM},
                    {"role": "user", "content": fit_tokens("\n".join(lines), self.max_prompt_tokens)}]
        return self.suggest(messages, keys, count)

    def gradients(self, params: List[Parameter]) -> Dict[Parameter, List[str]]:
        """Each parameter's textual gradients, propagated from the outputs' feedback."""
        grads: Dict[Node, List[str]] = {}
        for record in feedback_records(params):
            texts = grads.setdefault(record.output, [])
            if str(record.feedback) not in texts:
                texts.append(str(record.feedback))
        nodes = linking_subgraph(list(grads), params)
        in_graph = set(nodes)
        operations = [n for n in reversed(nodes) if isinstance(n, MessageNode) and n not in params]
        if len(operations) > self.max_gradient_calls:  # bounded: the consumers of parameters, from the outputs
            outputs_feedback = [t for texts in grads.values() for t in texts]
            consumers = [n for n in operations if any(p in params for p in n.parents)]
            operations = consumers[: self.max_gradient_calls]
            for node in operations:
                grads.setdefault(node, list(dict.fromkeys(outputs_feedback)))
        for node in operations:
            if node not in grads:
                continue
            targets = {name: parent for name, parent in node.inputs.items() if parent in in_graph}
            for name, text in self._node_gradient(node, targets, grads[node]).items():
                grads.setdefault(targets[name], []).append(text)
        return {p: grads.get(p, []) for p in params}

    def _node_gradient(self, node: MessageNode, targets: Dict[str, Node], output_grads: List[str]) -> Dict[str, str]:
        if not targets:
            return {}
        lines = [f"Step: {node.op.name}: {elide(node.description, 300)}", "Inputs:"]
        lines += [f"  {name} = {elide(preview(parent.data), _width(parent))}" for name, parent in node.inputs.items()]
        lines += [f"Output: {elide(preview(node.data), VALUE_WIDTH)}", "Feedback on the output:"]
        lines += [f"  - {elide(g, 400)}" for g in output_grads]
        lines += [f"Say how each of these inputs should change: {', '.join(targets)}.",
                  'Reply with a JSON object with the key "feedback": an object with, for each of these inputs, '
                  "a sentence on how it should change."]
        fields = {f"i{i}": (Optional[str], Field(default=None, alias=name)) for i, name in enumerate(targets)}
        schema = create_model("Gradient", feedback=(create_model("InputFeedback", **fields), ...))
        messages = [{"role": "system", "content": GRADIENT_SYSTEM},
                    {"role": "user", "content": fit_tokens("\n".join(lines), self.max_prompt_tokens)}]
        reply = self.llm.structured(messages, schema=schema)
        out = {}
        for field_name, info in type(reply.feedback).model_fields.items():
            text = getattr(reply.feedback, field_name)
            if text and text.strip():
                out[info.alias] = text.strip()
        return out


def _width(value: Node) -> int:
    """A trainable input is shown whole (the model rewrites what it sees); context is cut first."""
    return WHOLE_VALUE_CHARS if isinstance(value, Parameter) and value.trainable else VALUE_WIDTH
