"""ReActAgent: reason and act with tools (Yao et al., 2023, "ReAct").

Each turn the model either calls a tool (``Action: tool[input]``) or answers
(``Final Answer: ...``); a tool's result goes back into the transcript as an observation.
Trainable: the instructions, each tool's description as the model sees it, the step limit,
the temperature, and the ``parse`` code that reads the model's reply.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Dict, Optional

import trace_opt as to

NO_ANSWER = "(no answer within the step limit)"


class ReActAgent(to.Module):
    def __init__(self, tools: Dict[str, Callable[[str], Any]], llm: Any = None,
                 descriptions: Optional[Dict[str, str]] = None, max_steps: int = 4, temperature: float = 0.0) -> None:
        super().__init__()
        if not tools or not all(callable(t) for t in tools.values()):
            raise ValueError("ReActAgent needs a dict of tool name -> callable(str)")
        self.llm = llm
        self.tool_functions = dict(tools)
        self.instructions = to.Parameter(
            "Answer the question. To use a tool, reply with one line 'Action: TOOL[INPUT]'. "
            "When you know the answer, reply with one line 'Final Answer: ANSWER'.",
            description="system prompt of the agent")
        self.descriptions = {name: to.Parameter((descriptions or {}).get(name, f"the tool {name}"),
                                                description=f"what the tool {name} does, as the model sees it")
                             for name in tools}
        self.max_steps = to.Parameter(max_steps, bounds=(1, 10), description="most model turns per question")
        self.temperature = to.Parameter(temperature, bounds=(0.0, 1.5), description="sampling temperature")
        self._use_tool = to.bundle(name="use_tool")(self._run_tool)

    @to.bundle(trainable=True)
    def parse(self, reply: str) -> list:
        """Read the reply: ['final', answer], or ['action', tool, input]."""
        for line in reply.splitlines():
            line = line.strip()
            if line.lower().startswith("final answer:"):
                return ["final", line.split(":", 1)[1].strip()]
            found = re.search(r"action:\s*(\w+)\[(.*)\]", line, re.IGNORECASE)
            if found:
                return ["action", found.group(1), found.group(2)]
        return ["final", reply.strip()]

    def _run_tool(self, decision: list) -> str:
        """Run the tool the model chose on its input and return what it said."""
        _, name, tool_input = decision
        if name not in self.tool_functions:
            return f"unknown tool {name!r}; the tools are {sorted(self.tool_functions)}"
        try:
            return str(self.tool_functions[name](tool_input))
        except Exception as exc:  # a tool's failure is an observation the model can react to
            if to.graph.errors.stops_run(exc):  # ... but a model that cannot answer ends the run
                raise
            return f"the tool raised {type(exc).__name__}: {exc}"

    def forward(self, question: Any) -> to.Node:
        system = self.instructions + "\nTools:"
        for name, description in self.descriptions.items():
            system = system + f"\n- {name}: " + description
        transcript = "Question: " + to.node(question, name="question")
        for _ in range(int(self.max_steps.data)):
            reply = to.ops.llm_call(system, transcript, temperature=self.temperature, llm=self.llm)
            decision = self.parse(reply)
            if decision.data[0] == "final":
                return decision[1]
            transcript = transcript + "\n" + reply + "\nObservation: " + self._use_tool(decision)
        return transcript + "\n" + NO_ANSWER
