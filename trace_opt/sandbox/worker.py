"""The host's side of one isolated worker: start it, load a function, call it, kill it.

Every frame from the worker is untrusted: its size is capped before it is read, its JSON is
parsed bounded, its shape is checked, and it must answer the call it claims to (a random id per
call). A call that runs past its time, a frame that breaks the rules, or a worker that dies
ends with the worker killed (its whole sandbox: bubblewrap, the pid namespace with it) and a
`CallFailed` that says why; the host never blocks on it past the deadline.
"""
from __future__ import annotations

import base64
import os
import secrets
import selectors
import signal
import subprocess
import time
from typing import Any, Callable, Dict, Optional

from . import bounded_json, wire
from .isolation import command, package_binds, seccomp_pipe
from .seccomp_filter import exec_filter

START_TIMEOUT_S = 20.0
_FRAME_SLACK = 64 * 1024  # room for the captured output and the envelope around a value


class CallFailed(Exception):
    """An isolated call did not return a value; `str()` says why in words for the LLM."""


Callback = Callable[[str, str, list, dict], Any]


class Worker:
    """One sandboxed interpreter holding one loaded function (`settings` from `Limits.worker_settings`)."""

    def __init__(self, settings: Dict[str, Any]) -> None:
        self.settings = settings
        self.max_frame = settings["max_result_bytes"] + 2 * settings["max_output_chars"] * 4 + _FRAME_SLACK
        self.process: Optional[subprocess.Popen] = None
        self.calls = 0
        self._start()

    # -- life -------------------------------------------------------------------------------
    def _start(self) -> None:
        binds, roots = package_binds(frozenset(self.settings["allowed_modules"]))
        to_worker_r, self.to_worker = os.pipe()
        self.from_worker, from_worker_w = os.pipe()
        seccomp_fd = seccomp_pipe()
        argv, fds = command([str(to_worker_r), str(from_worker_w)], seccomp_fd,
                            self.settings["scratch_mb"], binds)
        try:
            self.process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                pass_fds=(to_worker_r, from_worker_w, *fds), start_new_session=True, env={})
        finally:
            for fd in (to_worker_r, from_worker_w, seccomp_fd):
                os.close(fd)
        os.set_blocking(self.from_worker, False)
        config = dict(self.settings, exec_filter=base64.b64encode(exec_filter()).decode(), paths=list(roots))
        self._send({"op": "setup", **config})
        ready = self._receive(time.monotonic() + START_TIMEOUT_S, "starting")
        if ready.get("op") != "ready" or not ready.get("ok"):
            self.kill()
            raise CallFailed(f"the isolated worker could not set up: {ready.get('error')}")
        self.process.stderr.close()  # only a start that fails has something to say there

    def load(self, message: Dict[str, Any]) -> Optional[str]:
        """Load the candidate's code; its error (syntax, a name it needs) or None."""
        self._send({"op": "load", **message})
        reply = self._receive(time.monotonic() + self.settings["timeout"], "loading the code")
        if reply.get("op") != "loaded":
            self.kill()
            raise CallFailed("the isolated worker answered a load with something else")
        return None if reply.get("ok") else str(reply.get("error"))[:2000]

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """The whole sandbox goes: bubblewrap's session, and the pid namespace with its first process."""
        if self.process is None:
            return
        targets = [self.process.pid] + self._worker_pids()
        for pid in targets:  # the worker is in a session of its own: killed by its pid
            for kill in (os.killpg, os.kill):
                try:
                    kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        self.process.wait()
        for fd in (self.to_worker, self.from_worker):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.process.stderr and not self.process.stderr.closed:
            self.process.stderr.close()
        self.process = None

    close = kill

    def _worker_pids(self) -> list:
        """The host pids of bubblewrap's children: the worker, first process of its pid namespace."""
        try:
            with open(f"/proc/{self.process.pid}/task/{self.process.pid}/children") as f:
                return [int(pid) for pid in f.read().split()]
        except (OSError, ValueError):
            return []

    def threads(self) -> int:
        """How many threads the worker runs now (1 when the code left none behind); 0 if unknown."""
        if self.process is None:
            return 0
        pids = self._worker_pids()
        try:
            return len(os.listdir(f"/proc/{pids[0]}/task")) if pids else 0
        except OSError:
            return 0

    # -- calls ------------------------------------------------------------------------------
    def call(self, args: Any, kwargs: Any, view: Optional[dict], on_callback: Callback,
             timeout: float) -> Dict[str, Any]:
        """Run the loaded function once; the result frame (ok, value, error, stdout, stderr)."""
        call_id = secrets.token_hex(16)
        self.calls += 1
        self._send({"op": "call", "id": call_id, "args": args, "kwargs": kwargs, "self": view, "timeout": timeout})
        deadline = time.monotonic() + timeout
        while True:
            message = self._receive(deadline, "running")
            if message.get("id") != call_id:
                self.kill()
                raise CallFailed("the isolated worker answered a call it was not asked (a forged reply)")
            if message.get("op") == "result":
                _check_result(message)
                return message
            if message.get("op") != "callback":
                self.kill()
                raise CallFailed(f"the isolated worker sent an unknown message {str(message.get('op'))[:40]!r}")
            started = time.monotonic()
            self._send(_answer(on_callback, message))
            deadline += time.monotonic() - started  # the host's own time is not the candidate's

    # -- frames -----------------------------------------------------------------------------
    def _send(self, message: Dict[str, Any]) -> None:
        try:
            wire.write_frame(self.to_worker, message)
        except OSError as exc:  # the worker is gone
            reason = self._death()
            self.kill()
            raise CallFailed(reason or f"the isolated worker stopped listening ({exc})") from None

    def _receive(self, deadline: float, doing: str) -> Dict[str, Any]:
        try:
            header = self._read(wire.HEADER_SIZE, deadline)
            body = self._read(wire.frame_length(header, self.max_frame), deadline)
            message = bounded_json.loads(body, max_bytes=self.max_frame, max_depth=self.settings["max_depth"] + 8,
                                         what="the worker's reply")
        except TimeoutError:
            self.kill()
            raise CallFailed(f"timeout: still {doing} after {self.settings['timeout']:g} s, killed") from None
        except EOFError:
            reason = self._death() or f"the isolated worker ended while {doing}"
            self.kill()
            raise CallFailed(reason) from None
        except ValueError as exc:
            self.kill()
            raise CallFailed(f"the isolated worker's reply was refused: {exc}") from None
        if not isinstance(message, dict):
            self.kill()
            raise CallFailed("the isolated worker's reply was refused: not an object")
        return message

    def _read(self, count: int, deadline: float) -> bytes:
        parts, left = [], count
        with selectors.DefaultSelector() as selector:
            selector.register(self.from_worker, selectors.EVENT_READ)
            while left:
                wait = deadline - time.monotonic()
                if wait <= 0 or not selector.select(wait):
                    raise TimeoutError
                try:
                    chunk = os.read(self.from_worker, min(left, 1 << 20))
                except BlockingIOError:
                    continue
                if not chunk:
                    raise EOFError
                parts.append(chunk)
                left -= len(chunk)
        return b"".join(parts)

    def _death(self) -> Optional[str]:
        """Why the worker ended, once it has (its exit status, or what bubblewrap said)."""
        if self.process is None:
            return None
        try:
            code = self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return None
        said = ""
        if self.process.stderr and not self.process.stderr.closed:
            said = self.process.stderr.read(4000).decode("utf-8", "replace").strip()
        if said:
            return f"the isolated worker could not start: {said}"
        if code < 0:
            name = signal.Signals(-code).name
            hint = {"SIGXCPU": "CPU time limit exceeded",
                    "SIGKILL": f"killed (memory limit {self.settings['memory_mb']} MB?)",
                    "SIGSEGV": "crashed (segmentation fault)", "SIGSYS": "a refused system call"}.get(name, "killed")
            return f"the isolated worker died on {name}: {hint}"
        if code == 128 + signal.SIGXCPU:
            return "the isolated worker died on SIGXCPU: CPU time limit exceeded"
        return f"the isolated worker exited with status {code} without a result"


def _check_result(message: Dict[str, Any]) -> None:
    if not isinstance(message.get("ok"), bool):
        raise CallFailed("the isolated worker's result has no ok flag")
    for key in ("error", "stdout", "stderr"):
        if message.get(key) is not None and not isinstance(message[key], str):
            raise CallFailed(f"the isolated worker's result has a malformed {key}")


def _answer(on_callback: Callback, message: Dict[str, Any]) -> Dict[str, Any]:
    """Run a callback the worker asked for (a traced function, on decoded plain data)."""
    try:
        target, name = message.get("target"), message.get("name")
        if target not in ("self", "global") or not isinstance(name, str):
            raise CallFailed("a malformed callback")
        args, kwargs = wire.decode(message.get("args", [])), wire.decode(message.get("kwargs", {}))
        if not isinstance(args, list) or not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
            raise CallFailed("a malformed callback")
        value = wire.encode(on_callback(target, name, args, kwargs))
        return {"op": "return", "ok": True, "value": value}
    except Exception as exc:  # the callee's failure goes back to the candidate as an exception
        return {"op": "return", "ok": False, "error": f"{type(exc).__name__}: {str(exc)[:1000]}"}
