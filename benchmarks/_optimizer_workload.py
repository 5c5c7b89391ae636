"""One OptoPrime step workload, run in a fresh process, for trace_opt or Microsoft Trace (opto).

The same code drives both libraries through a small adapter, so the two sides of
optimizer_overhead.py build identical graphs and time the same thing: one ``step()`` of
OptoPrime, whose LLM is FakeLLM (below) — no model, no network. Prints one JSON line.

    python _optimizer_workload.py LIB SHAPE N CAP_S [MAX_PROMPT_TOKENS]
        LIB: trace_opt | opto; SHAPE: chain | fanout

chain   p = trainable text; x = p; N times x = x + " more"; backward on x
fanout  y_i = p + f" {i}" for i < N; out = combine(*ys) (one op with N parents); backward on out

Only step() is timed (building the graph and backward are timed apart, for context). A step
still running after CAP_S seconds is interrupted (SIGALRM) and reported as capped. Prompt
size is trace_opt's own estimate (trace_opt/optim/llm/tokens.py, loaded by path on the opto
side so that both prompts are measured by the very same function).
"""
import gc
import importlib.util
import json
import signal
import sys
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
REPLY_VALUE = "new text"


class FakeLLM:
    """A fake LLM: answers every request at once with the same valid suggestion, and keeps the
    messages it was sent. It speaks both interfaces: trace_opt's ``structured(messages, schema)``
    and the litellm-style ``llm(messages=..., ...)`` that Trace's OptoPrime.call_llm uses, whose
    reply it reads as ``response.choices[0].message.content``."""

    context_window = 8192

    def __init__(self, key: str):
        self.reply = {"reasoning": "fake LLM: fixed reply", "suggestion": {key: REPLY_VALUE}}
        self.messages = None

    def structured(self, messages, schema, **options):  # trace_opt's LLM layer
        self.messages = messages
        return schema.model_validate(self.reply)

    def __call__(self, messages, **options):  # Trace: litellm-style completion
        self.messages = messages
        message = SimpleNamespace(content=json.dumps(self.reply))
        return SimpleNamespace(choices=[SimpleNamespace(message=message)])


def _adapter(lib, max_prompt_tokens):
    """(make_param, combine, make_optimizer(p) -> (optimizer, fake), reset, estimate_tokens)."""
    if lib == "trace_opt":
        import trace_opt as to
        from trace_opt.optim.llm.suggestions import variable_keys
        from trace_opt.optim.llm.tokens import estimate_tokens

        @to.bundle()
        def combine(*args):
            """Join the inputs."""
            return "".join(args)

        def make_optimizer(p):
            fake = FakeLLM(variable_keys([p])[p])
            return to.optim.OptoPrime([p], llm=fake, max_prompt_tokens=max_prompt_tokens), fake

        return (lambda: to.Parameter("text")), combine, make_optimizer, (lambda: None), estimate_tokens
    if lib == "opto":
        from opto.optimizers import OptoPrime
        from opto.trace import GRAPH, bundle, node

        spec = importlib.util.spec_from_file_location("_tokens", ROOT / "trace_opt/optim/llm/tokens.py")
        tokens = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(tokens)

        @bundle()
        def combine(*args):
            """Join the inputs."""
            return "".join(args)

        def make_optimizer(p):
            fake = FakeLLM(p.py_name)  # Trace's reply keys are the variables' py_names
            return OptoPrime([p], llm=fake), fake

        return (lambda: node("text", trainable=True)), combine, make_optimizer, GRAPH.clear, tokens.estimate_tokens
    raise SystemExit(f"unknown library {lib!r}")


class Capped(BaseException):  # not Exception: Trace catches those around its LLM call
    pass


def _on_alarm(signum, frame):
    raise Capped()


def main(lib, shape, n, cap_s, max_prompt_tokens):
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 4 * n + 1_000))
    make_param, combine, make_optimizer, reset, estimate_tokens = _adapter(lib, max_prompt_tokens)
    signal.signal(signal.SIGALRM, _on_alarm)
    result = {"lib": lib, "shape": shape, "n": n, "steps_s": [], "capped": False}
    for repeat in range(3):  # best of up to three steps, each on a freshly built graph; one if slow
        reset()
        gc.collect()
        start = time.perf_counter()
        p = make_param()
        if shape == "chain":
            out = p
            for _ in range(n):
                out = out + " more"
        else:
            out = combine(*[p + f" {i}" for i in range(n)])
        built = time.perf_counter()
        optimizer, fake = make_optimizer(p)
        backward_start = time.perf_counter()
        out.backward("feedback")
        step_start = time.perf_counter()
        if repeat == 0:  # the first run is what a fresh process sees: report its graph and prompt
            result.update(build_s=built - start, backward_s=step_start - backward_start)
        signal.setitimer(signal.ITIMER_REAL, cap_s)
        try:
            optimizer.step()
        except Capped:
            result["capped"] = True
            break
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        done = time.perf_counter()
        result["steps_s"].append(done - step_start)
        if repeat == 0:
            contents = [m["content"] for m in fake.messages]
            result.update(prompt_tokens=sum(estimate_tokens(c) for c in contents),
                          prompt_chars=sum(len(c) for c in contents),
                          updated=p.data == REPLY_VALUE)  # the fake reply was parsed and applied
        if sum(result["steps_s"]) > 2:
            break
    result["step_s"] = None if result["capped"] else min(result["steps_s"])
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]),
         int(sys.argv[5]) if len(sys.argv) > 5 else 4000)
