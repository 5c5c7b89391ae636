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


def add_export(sub: "argparse._SubParsersAction") -> None:
    parser = sub.add_parser("export", help="write a run's trained parameters to a file that Module.load() reads")
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory holding checkpoint.json")
    parser.add_argument("--out", metavar="PATH", help="where to write the file (default RUN_DIR/agent.json)")
    parser.add_argument("--entry", metavar="ENTRY", help="FILE.py:FUNCTION that built the run's trainer "
                        "(default: the one RUN_DIR/run.json names, for runs started with 'trace-opt run')")
    parser.set_defaults(command=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    run_dir = Path(args.run_dir)
    try:
        agent = _trained_agent(run_dir, args.entry)
        path = agent.save(Path(args.out) if args.out else run_dir / "agent.json")
    except (OSError, ImportError, ValueError, TypeError) as error:
        print(f"trace-opt export: {error}", file=sys.stderr)
        return 2
    print(path)
    return 0


def _trained_agent(run_dir: "Path", entry: Optional[str]) -> object:
    """The run's agent holding its checkpointed values: written from the checkpoint alone when it
    says each parameter's kind and runner (no user code runs), else rebuilt as a resume rebuilds
    it (an older checkpoint keeps bare values; the file needs each kind, and code an optimizer
    accepted stays isolated once loaded)."""
    from .train import Trainer
    from .train.checkpoint import CHECKPOINT, checked_state, load_checkpoint
    from .train.launch import load_factory

    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir} {'is not a directory' if run_dir.exists() else 'does not exist'}")
    if not (run_dir / CHECKPOINT).is_file():
        raise FileNotFoundError(f"{run_dir} has no {CHECKPOINT}: not a run directory, or no step was saved yet")
    state = checked_state(load_checkpoint(run_dir))
    if entry is None and _described(state) is not None:
        return _Described(state)
    entry = entry or _run_entry(run_dir)
    trainer = load_factory(entry)(run_dir)
    if not isinstance(trainer, Trainer):
        raise TypeError(f"{entry} must return a Trainer, got {type(trainer).__name__}")
    trainer.agent.load_state_dict(state["agent"])
    if state.get("optimizer") is not None:  # LLM optimizers mark the code they accepted as isolated
        trainer.optimizer.load_state_dict(state["optimizer"])
    return trainer.agent


def _described(state: dict) -> Optional[dict]:
    """The checkpoint's table of kinds and runners when it covers exactly the checkpointed values."""
    described = state.get("agent_file")
    table = described.get("parameters") if isinstance(described, dict) else None
    if not isinstance(table, dict) or table.keys() != state["agent"].keys() or \
            not all(isinstance(entry, dict) and isinstance(entry.get("kind"), str) for entry in table.values()):
        return None
    return described


class _Described:
    """A checkpoint's agent written as ``Module.save`` writes it (``save`` is all export needs)."""

    def __init__(self, state: dict) -> None:
        self.described, self.values = _described(state), state["agent"]

    def save(self, path: "Path") -> "Path":
        from .graph.files import document
        from .graph.serialize import write_json_atomic

        return write_json_atomic(path, document(str(self.described.get("module")), self.described["parameters"],
                                                self.values))


def _run_entry(run_dir: "Path") -> str:
    """The factory 'trace-opt run' recorded; a run started from Python names it with --entry."""
    import json

    from .train.launch import RUN_FILE

    record = run_dir / RUN_FILE
    if not record.is_file():
        raise FileNotFoundError(f"{run_dir} has no {RUN_FILE} (it was not started with trace-opt run): name the "
                                "function that builds its trainer with --entry FILE.py:FUNCTION")
    try:
        entry = json.loads(record.read_text(encoding="utf-8")).get("entry")
    except (ValueError, AttributeError):
        entry = None
    if not isinstance(entry, str):
        raise ValueError(f"{record} does not name an entry (FILE.py:FUNCTION or MODULE:FUNCTION)")
    return entry


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


SUBCOMMANDS = [add_run, add_resume, add_export, add_report, add_doctor]  # one entry per subcommand


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
