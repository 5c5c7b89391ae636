"""Trace's code-optimization tutorial (the greeting agent), ported by changing imports: OptoPrime
rewrites the agent's trainable methods until it greets in the user's language.

The agent decides the language with a rule (the tutorial asks an LLM; this keeps the example
offline and exact). The optimizer's LLM is Trace's DummyLLM shape over trace_opt's ScriptedLLM
(a fake that writes the fixed code: NOT a model); ``--model embedded`` asks the embedded local
model instead (slow; a 135M model rarely writes the right code). Proposed code runs in an isolated
worker (bubblewrap), as all LLM-written code does in trace_opt.

Run: .venv/bin/python examples/trace_code_agent.py [--model embedded]
"""
import argparse
import json

from trace_opt.compat.opto import trace
from trace_opt.compat.opto.optimizers import OptoPrime
from trace_opt.compat.opto.utils.llm import LLM, DummyLLM


@trace.model
class Agent:
    def __call__(self, user_query):
        lang = self.decide_lang(user_query)
        return self.greet(lang, self.extract_name(user_query))

    @trace.bundle(trainable=True)
    def decide_lang(self, query):
        """Map the query to its language: 'en' or 'es'."""
        return "en"

    @trace.bundle()
    def extract_name(self, query):
        """The name after 'soy' or 'I am'."""
        words = query.replace(",", " ").replace(".", " ").split()
        return words[-1]

    @trace.bundle(trainable=True)
    def greet(self, lang, user_name):
        """Produce a greeting based on the language."""
        greeting = "Hello"
        return f"{greeting}, {user_name}!"


def feedback_fn(response, gold_label):
    word = {"en": "Hello", "es": "Hola"}[gold_label]
    return "Correct" if word in response else f"Incorrect: the user speaks {gold_label}; greet with {word!r}."


FIXED = {
    "decide_lang": 'def decide_lang(self, query):\n    """Map the query to its language."""\n'
                   '    return "es" if "hola" in query.lower() else "en"\n',
    "greet": 'def greet(self, lang, user_name):\n    """Produce a greeting based on the language."""\n'
             '    greeting = "Hola" if lang == "es" else "Hello"\n    return f"{greeting}, {user_name}!"\n',
}


def scripted_reply(messages):
    """The fake LLM's answer: the corrected code of both methods."""
    return json.dumps({"reasoning": "Detect Spanish and greet in it.", "suggestion": FIXED})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=["scripted", "embedded"], default="scripted")
    args = parser.parse_args()
    agent = Agent()
    optimizer = OptoPrime(agent.parameters(), llm=DummyLLM(scripted_reply) if args.model == "scripted" else LLM())
    for epoch in range(3):
        try:
            greeting = agent("Hola, soy Juan.")
            feedback = feedback_fn(greeting.data, "es")
        except trace.ExecutionError as e:
            greeting, feedback = e.exception_node, e.exception_node.data
        print(f"epoch {epoch}: {greeting.data!r} -> {feedback}")
        if feedback == "Correct":
            break
        optimizer.zero_feedback()
        optimizer.backward(greeting, feedback)
        optimizer.step(verbose=False)
    print("English still works:", agent("Hello, I am Ann.").data)


if __name__ == "__main__":
    main()
