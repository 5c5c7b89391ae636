"""`trace-opt`: the command line. Each subcommand is one `add_*` function (its parser) and one
`cmd_*` function (its work); heavy modules load inside the command, so `--help` stays fast.
"""
from __future__ import annotations

import argparse
import sys
import time
from typing import Callable, List, Optional

Command = Callable[[argparse.Namespace], int]


def add_report(sub: "argparse._SubParsersAction") -> None:
    parser = sub.add_parser("report", help="write a run's HTML report (curves, cost, parameter diffs, trace)")
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory holding events.jsonl")
    parser.add_argument("--out", metavar="PATH", help="where to write the page (default RUN_DIR/report.html)")
    parser.set_defaults(command=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from .report import write_report

    try:
        path = write_report(args.run_dir, args.out)
    except FileNotFoundError as error:
        print(f"trace-opt report: {error}", file=sys.stderr)
        return 2
    print(path)
    return 0


def add_run(sub: "argparse._SubParsersAction") -> None:
    parser = sub.add_parser("run", help="train: ENTRY is FILE.py:FUNCTION returning a Trainer for a run directory")
    parser.add_argument("entry", metavar="ENTRY", help="e.g. examples/train_qa_agent.py:make_trainer")
    parser.add_argument("--run-dir", required=True, metavar="DIR", help="where checkpoints, events and the report go")
    parser.set_defaults(command=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    from .train.launch import start

    return _train(lambda: start(args.entry, args.run_dir), args.run_dir, "run")


def add_resume(sub: "argparse._SubParsersAction") -> None:
    parser = sub.add_parser("resume", help="continue a run started with 'trace-opt run' from its last checkpoint")
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.set_defaults(command=cmd_resume)


def cmd_resume(args: argparse.Namespace) -> int:
    from .train.launch import resume

    return _train(lambda: resume(args.run_dir), args.run_dir, "resume")


def _train(go: Callable[[], object], run_dir: str, name: str) -> int:
    from .report import write_report

    try:
        result = go()
    except (FileNotFoundError, ValueError, TypeError) as error:
        print(f"trace-opt {name}: {error}", file=sys.stderr)
        return 2
    print(f"{result.steps} steps, ended: {result.reason}; best validation score {result.best_val_score}")
    print(f"report: {write_report(run_dir)}")
    return 0


def add_doctor(sub: "argparse._SubParsersAction") -> None:
    parser = sub.add_parser("doctor", help="say which LLM is configured, and ask it one real question")
    parser.add_argument("--no-call", action="store_true", help="only show the configuration; call nothing")
    parser.set_defaults(command=cmd_doctor)


def cmd_doctor(args: argparse.Namespace) -> int:
    """What works and what does not; exit 0 only when the model answered a real request."""
    from .llm import LLM, local

    try:
        llm = LLM(cache=False, max_retries=1, max_reasks=0)
    except Exception as error:  # a bad TRACE_OPT_MODEL, say
        print(f"LLM configuration: unusable ({error})")
        return 1
    if llm.local:
        if not _doctor_local(llm, local):
            return 1
    else:
        print(f"LLM: {llm.model} (from TRACE_OPT_MODEL)" if llm.api_base is None
              else f"LLM: {llm.model} at {_without_credentials(llm.api_base)}")
    if args.no_call:
        print("not called (--no-call): run `trace-opt doctor` to check that the model answers")
        return 0
    started = time.monotonic()
    try:
        reply = llm("Reply with the single word OK.", max_tokens=8)
    except Exception as error:
        print(f"call failed: {type(error).__name__}: {error}")
        if llm.local and local.server.log_path:
            print(f"server log: {local.server.log_path}")
        return 1
    preview = " ".join(str(reply).split())[:60]
    if not preview:
        print(f"the model answered with nothing in {time.monotonic() - started:.1f} s")
        return 1
    print(f"answered in {time.monotonic() - started:.1f} s: {preview!r}")
    if llm.local:
        print(f"server log: {local.server.log_path}")
    return 0


def _doctor_local(llm: object, local: object) -> bool:
    """The embedded model's pieces, one line each; False when one is missing."""
    from .llm import build_info

    print(f"LLM: {llm.model} (the embedded local model; set TRACE_OPT_MODEL to use another)")
    print(f"CPU: {_cpu_model()}")
    path = _probe("local model: unusable", local.check_installed)
    if path is None:
        return False
    print(f"local model file: {path} ({path.stat().st_size / 1e6:.0f} MB, context {local.context_size()} tokens)")
    info = _probe("llama.cpp build: unreadable", build_info.system_info)
    if info is None:
        return False
    enabled = [name for name, on in build_info.features(info).items() if on]
    print(f"llama.cpp build uses: {' '.join(enabled)}")
    for problem in build_info.problems(info):
        print(f"warning: {problem}; rebuild with scripts/build_llama.sh")
    return True


def _probe(failure: str, check: Callable[[], object]) -> object:
    """``check()``, or None after printing ``failure`` with the reason."""
    try:
        return check()
    except Exception as error:
        print(f"{failure}: {error}")
        return None


def _cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8", errors="replace"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def _without_credentials(url: str) -> str:
    """The URL with any user:password@ part dropped: doctor's output gets pasted into issues."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1])) if "@" in parts.netloc else url


SUBCOMMANDS = [add_run, add_resume, add_report, add_doctor]  # one entry per subcommand


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trace-opt", description="Train AI workflows; inspect their runs.")
    sub = parser.add_subparsers(metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command: Optional[Command] = getattr(args, "command", None)
    if command is None:
        parser.print_help(sys.stderr)
        return 2
    return command(args)


if __name__ == "__main__":
    sys.exit(main())
