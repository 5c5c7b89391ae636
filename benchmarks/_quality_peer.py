"""One peer run for the quality benchmark: DSPy or Microsoft Trace on one task, in the peer's own venv.

    PY benchmarks/_quality_peer.py --lib dspy|trace --method M --task T --api-base URL [--model smollm2]
        [--seed 0] [--max-tokens 64] [--no-before]

It scores the unoptimized program on the held-out test rows ("before"), lets the peer's optimizer
work on train (+ val where it takes one), scores again ("after"), and prints one JSON object as the
last stdout line. The rows and the metric come from _quality_tasks.py, so every library is judged
alike. A peer that fails on this model is a result, not a crash: the JSON then carries "error" and
the worker still exits 0. Only the peer's public API is used; this file only wires it to the tasks.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import traceback
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # litellm must not fetch its price list
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _quality_peers import PEER_METHODS as METHODS  # noqa: E402
from _quality_tasks import TASKS, Task, correct  # noqa: E402

PROPOSAL_TOKENS = 512  # cap for the optimizers' own calls (instruction proposals, reflections)
MIPRO_AUTO = "light"     # DSPy's own smallest preset: 6 candidates, ~10 trials over the 12 val rows
GEPA_METRIC_CALLS = 100  # GEPA's budget in program runs (its auto="light" is several hundred)
TRACE_STEPS, TRACE_BATCH = 3, 4


def short(text: object, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_text(exc: BaseException) -> str:
    return short(f"{type(exc).__name__}: {exc}", 300)


def feedback_text(reply: object, target: str) -> str:
    """The same words for every optimizer that reads feedback (GEPA, OptoPrime)."""
    return "Correct." if correct(reply, target) else f"Wrong: expected {target}, got {short(reply, 80)}"


class Result(dict):
    """The JSON line; filled in as the run goes so a failure still reports what was measured."""

    def __init__(self, args):
        super().__init__(lib=args.lib, method=args.method, task=args.task, before=None, after=None, calls=0,
                         opt_calls=0, tokens=0, wall_s=None, changed="", notes="", error=None)


# --- DSPy ---------------------------------------------------------------------------------------

def run_dspy(args, task: Task, result: Result) -> None:
    import dspy
    from dspy.clients import base_lm
    from dspy.utils.callback import BaseCallback

    class CountCalls(BaseCallback):
        """Counts every LM call, failed ones too (history only keeps the successful ones)."""
        calls = failed = 0

        def on_lm_end(self, call_id, outputs, exception):
            CountCalls.calls += 1
            CountCalls.failed += exception is not None

    def usage() -> int:
        return sum(int((h.get("usage") or {}).get("total_tokens") or 0) for h in base_lm.GLOBAL_HISTORY)

    def lm(max_tokens: int):
        # engine="litellm": DSPy 3.4's default engine sends max_completion_tokens, which llama.cpp's
        # server ignores (replies then run to the context limit); litellm sends max_tokens.
        return dspy.LM(f"openai/{args.model}", api_base=args.api_base, api_key="x", temperature=0.0,
                       max_tokens=max_tokens, cache=False, num_retries=1, engine="litellm")

    dspy.configure_cache(enable_disk_cache=False, enable_memory_cache=False)
    program_lm, proposal_lm = lm(args.max_tokens), lm(PROPOSAL_TOKENS)
    # DSPy's default ChatAdapter never got its format back from this model (0 of 48 rows in a
    # trial run) and fell back to JSONAdapter on every call: the same answers at twice the calls.
    # JSONAdapter directly is the cheaper of DSPy's own choices; --adapter chat runs the default.
    adapter = dspy.JSONAdapter() if args.adapter == "json" else dspy.ChatAdapter()
    dspy.configure(lm=program_lm, adapter=adapter, callbacks=[CountCalls()])

    def example(row):
        return dspy.Example(**{task.input_name: row[0], task.output_name: row[1]}).with_inputs(task.input_name)

    splits = task.splits()
    train, val = [example(r) for r in splits["train"]], [example(r) for r in splits["val"]]
    signature = dspy.Signature({task.input_name: dspy.InputField(), task.output_name: dspy.OutputField()},
                               task.instructions)
    student = dspy.Predict(signature)

    def reply_of(prediction) -> str:
        return str(getattr(prediction, task.output_name, "") or "")

    def metric(gold, prediction, trace=None):
        return correct(reply_of(prediction), gold[task.output_name])

    def gepa_metric(gold, prediction, trace=None, pred_name=None, pred_trace=None):
        reply = reply_of(prediction)
        return dspy.Prediction(score=float(correct(reply, gold[task.output_name])),
                               feedback=feedback_text(reply, gold[task.output_name]))

    failures, start_calls = [0], [None]

    def accuracy(program) -> float:
        right, errors = 0, []
        for text, target in splits["test"]:
            try:
                right += correct(reply_of(program(**{task.input_name: text})), target)
            except Exception as exc:  # an unparseable reply is a wrong answer, as it would be for a user
                errors.append(exc)
        failures[0] += len(errors)
        if len(errors) == len(splits["test"]):  # nothing came back at all: the run failed
            raise errors[0]
        return right / len(splits["test"])

    notes = [f"program max_tokens={args.max_tokens}, optimizer LM max_tokens={PROPOSAL_TOKENS}, temperature 0, "
             f"no cache, engine=litellm, {type(adapter).__name__}"]
    try:
        if not args.no_before:
            result["before"] = accuracy(student)
        if args.method == "baseline":
            result["after"], result["changed"] = result["before"], "nothing (unoptimized)"
            return
        start_calls[0] = CountCalls.calls
        if args.method == "LabeledFewShot":
            optimizer = dspy.LabeledFewShot(k=4)
            compiled = optimizer.compile(student, trainset=train)
        elif args.method == "BootstrapFewShot":
            optimizer = dspy.BootstrapFewShot(metric=metric, max_bootstrapped_demos=4, max_labeled_demos=4)
            compiled = optimizer.compile(student, trainset=train)
        elif args.method == "MIPROv2":
            notes.append(f"MIPROv2 auto={MIPRO_AUTO}")
            optimizer = dspy.MIPROv2(metric=metric, prompt_model=proposal_lm, task_model=program_lm, auto=MIPRO_AUTO,
                                     max_bootstrapped_demos=4, max_labeled_demos=4, num_threads=1, seed=args.seed,
                                     verbose=False)
            compiled = optimizer.compile(student, trainset=train, valset=val, requires_permission_to_run=False)
        elif args.method == "GEPA":
            notes.append(f"GEPA max_metric_calls={GEPA_METRIC_CALLS}, reflection LM = same server")
            optimizer = dspy.GEPA(metric=gepa_metric, max_metric_calls=GEPA_METRIC_CALLS, reflection_lm=proposal_lm,
                                  num_threads=1, seed=args.seed)
            compiled = optimizer.compile(student, trainset=train, valset=val)
        else:
            raise SystemExit(f"unknown dspy method {args.method!r}")
        result["opt_calls"], start_calls[0] = CountCalls.calls - start_calls[0], None
        predictor = compiled.predictors()[0]
        instruction = predictor.signature.instructions
        result["changed"] = short(f"{len(predictor.demos)} demos, instruction "
                                  + ("unchanged" if instruction == task.instructions else f": {instruction}"))
        result["after"] = accuracy(compiled)
    finally:
        if start_calls[0] is not None:  # optimization raised: its calls so far
            result["opt_calls"] = CountCalls.calls - start_calls[0]
        result["calls"], result["tokens"] = CountCalls.calls, usage()
        if failures[0] or CountCalls.failed:
            notes.append(f"{failures[0]} test replies raised (scored wrong), {CountCalls.failed} LM calls failed")
        result["notes"] = short("; ".join(notes), 400)


# --- Microsoft Trace ----------------------------------------------------------------------------

def run_trace(args, task: Task, result: Result) -> None:
    # Trace's LiteLLM backend reads the model name and the server from the environment.
    os.environ.update(TRACE_LITELLM_MODEL=f"openai/{args.model}", OPENAI_API_BASE=args.api_base,
                      OPENAI_API_KEY=os.environ.get("OPENAI_API_KEY", "x"))
    from opto.optimizers import OptoPrime
    from opto.trace import bundle, node
    from opto.utils.llm import LLM

    class CountingLLM(LLM):
        """Trace's own LLM class, counting calls and tokens; the agent and OptoPrime share one."""
        calls = tokens = 0

        def __call__(self, *args, **kwargs):
            CountingLLM.calls += 1
            response = super().__call__(*args, **kwargs)
            CountingLLM.tokens += int(getattr(getattr(response, "usage", None), "total_tokens", 0) or 0)
            return response

    llm = CountingLLM()
    splits = task.splits()

    def chat(instruction: str, text: str) -> str:
        response = llm(messages=[{"role": "system", "content": instruction}, {"role": "user", "content": text}],
                       temperature=0, max_tokens=args.max_tokens)
        return response.choices[0].message.content or ""

    @bundle()
    def answer(instruction, text):
        """Ask the language model: the instruction is the system message, the text the user message."""
        return chat(instruction, text)

    @bundle()
    def batch(*replies):
        """Gather the replies of a minibatch so that one feedback covers them all."""
        return "\n".join(f"ID {i}: {reply}" for i, reply in enumerate(replies))

    def accuracy(instruction: str) -> float:
        return sum(correct(chat(instruction, text), target) for text, target in splits["test"]) / len(splits["test"])

    instruction = node(task.instructions, trainable=True, description="the system prompt of the model")
    notes = [f"program max_tokens={args.max_tokens}, OptoPrime max_tokens={PROPOSAL_TOKENS}, temperature 0 "
             "(no cache: Trace's LiteLLM backend does not cache)"]
    failed_steps, start_calls = [], [None]
    try:
        if not args.no_before:
            result["before"] = accuracy(instruction.data)
        if args.method == "baseline":
            result["after"], result["changed"] = result["before"], "nothing (unoptimized)"
            return
        if args.method != "OptoPrime":
            raise SystemExit(f"unknown trace method {args.method!r}")
        notes.append(f"{TRACE_STEPS} steps over minibatches of {TRACE_BATCH} train rows")
        optimizer = OptoPrime([instruction], llm=llm, max_tokens=PROPOSAL_TOKENS)
        start_calls[0], updated = CountingLLM.calls, 0
        rows = list(splits["train"])
        random.Random(args.seed).shuffle(rows)
        for step in range(TRACE_STEPS):
            chunk = rows[step * TRACE_BATCH:(step + 1) * TRACE_BATCH]
            replies = [answer(instruction, text) for text, _ in chunk]
            feedback = "\n".join(f"ID {i}: {feedback_text(reply.data, target)}"
                                 for i, (reply, (_, target)) in enumerate(zip(replies, chunk)))
            optimizer.zero_feedback()
            optimizer.backward(batch(*replies), feedback)
            before_step = instruction.data
            try:
                optimizer.step()
            except Exception as exc:  # one failed proposal (e.g. prompt over the context) skips that step
                failed_steps.append(f"step {step}: {error_text(exc)}")
            updated += instruction.data != before_step
            if optimizer.log:  # what OptoPrime's LLM answered, for whoever reads the worker's stderr
                print(f"step {step} proposal: {short(optimizer.log[-1]['response'], 600)}", file=sys.stderr)
        result["opt_calls"], start_calls[0] = CountingLLM.calls - start_calls[0], None
        if failed_steps and len(failed_steps) == TRACE_STEPS:
            raise RuntimeError("every OptoPrime step failed; " + failed_steps[0])
        result["changed"] = short(f"{updated}/{TRACE_STEPS} steps updated it; instruction "
                                  + ("unchanged" if instruction.data == task.instructions else f": {instruction.data}"))
        result["after"] = accuracy(instruction.data)
    finally:
        if start_calls[0] is not None:  # optimization raised: its calls so far
            result["opt_calls"] = CountingLLM.calls - start_calls[0]
        result["calls"], result["tokens"] = CountingLLM.calls, CountingLLM.tokens
        notes.extend(failed_steps)
        result["notes"] = short("; ".join(notes), 400)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lib", choices=sorted(METHODS), required=True)
    parser.add_argument("--method", required=True)
    parser.add_argument("--task", choices=sorted(TASKS), required=True)
    parser.add_argument("--api-base", required=True, help="the OpenAI-compatible server, e.g. http://127.0.0.1:8765/v1")
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-tokens", type=int, default=64, help="cap on each program reply")
    parser.add_argument("--adapter", choices=["json", "chat"], default="json",
                        help="DSPy's adapter (chat = DSPy's default, which falls back to json)")
    parser.add_argument("--no-before", action="store_true",
                        help="skip scoring the unoptimized program (it is the baseline run's score)")
    args = parser.parse_args()
    if args.method not in METHODS[args.lib]:
        parser.error(f"--method for {args.lib} is one of {METHODS[args.lib]}")
    random.seed(args.seed)
    result, started = Result(args), time.perf_counter()
    try:
        (run_dspy if args.lib == "dspy" else run_trace)(args, TASKS[args.task], result)
    except Exception as exc:
        result["after"], result["error"] = None, error_text(exc)
        traceback.print_exc(file=sys.stderr)
    result["wall_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
