"""Trace's numeric optimization tutorial, ported by changing imports: OptoPrime tunes x so that
foobar(x) is large enough, from words of feedback only.

By default the optimizer's LLM is Trace's DummyLLM shape over trace_opt's ScriptedLLM (a fake
that answers from a script: offline, instant, and clearly not a model). ``--model embedded``
uses the embedded local model instead (slow: minutes; whether a 135M model succeeds varies).

Run: .venv/bin/python examples/trace_numeric_optoprime.py [--model embedded]
"""
import argparse
import json

from trace_opt.compat.opto import trace
from trace_opt.compat.opto.optimizers import OptoPrime
from trace_opt.compat.opto.utils.llm import LLM, DummyLLM


def blackbox(x):
    return -x * 2


@trace.bundle()
def bar(x):
    "This is a test function, which does negative scaling."
    return blackbox(x)


def foo(x):
    y = x + 1
    return x * y


def foobar(x):
    return foo(bar(x))


def user(x):
    return "The number needs to be larger." if x < 50 else "Success."


def scripted_reply(messages):
    """The fake LLM's answer (a script, not a model): a more negative x."""
    return json.dumps({"reasoning": "foobar(x) = 4x^2 - 2x grows as x moves away from 0; "
                                    "a more negative x makes it larger.", "suggestion": {"x": -5.0}})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=["scripted", "embedded"], default="scripted")
    args = parser.parse_args()
    llm = DummyLLM(scripted_reply) if args.model == "scripted" else LLM()
    x = trace.node(-1.0, name="x", trainable=True)
    optimizer = OptoPrime([x], llm=llm)
    for step in range(5):
        output = foobar(x)
        feedback = user(output.data)
        print(f"step {step}: x={x.data}, output={output.data}, feedback={feedback}")
        if feedback == "Success.":
            break
        optimizer.zero_feedback()
        optimizer.backward(output, feedback)
        optimizer.step(verbose=False)
    print(f"final x={x.data}, foobar(x)={foobar(x).data}")


if __name__ == "__main__":
    main()
