"""QAAgent: answers a question with one LLM call, then a trainable code step extracts the answer.

Trainable: the system prompt (``instructions``), the sampling ``temperature`` (bounded) and the
``extract`` code that turns the model's reply into the final answer.
"""
from __future__ import annotations

from typing import Any

import trace_opt as to


class QAAgent(to.Module):
    def __init__(self, llm: Any = None, instructions: str = "You are a helpful assistant.",
                 temperature: float = 0.0) -> None:
        super().__init__()
        self.llm = llm
        self.instructions = to.Parameter(instructions, description="system prompt: how the model should answer")
        self.temperature = to.Parameter(temperature, bounds=(0.0, 1.5), description="sampling temperature of the model")

    @to.bundle(trainable=True)
    def extract(self, reply: str) -> str:
        """Turn the model's reply into the final answer."""
        return reply.strip()

    def forward(self, question: Any) -> to.Node:
        reply = to.ops.llm_call(self.instructions, question, temperature=self.temperature, llm=self.llm)
        return self.extract(reply)
