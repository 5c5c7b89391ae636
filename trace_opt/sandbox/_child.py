"""Runs in the sandbox process (`python -I -S -c <this file>`); imports only the stdlib.
forked.py reuses its limits, builtins and error wording in a forked child.

Reads one JSON request on stdin, applies resource limits, runs the candidate with restricted
builtins, and writes one JSON result on stdout. The candidate's own prints are captured.
"""
import builtins
import io
import json
import os
import resource
import signal
import sys
import time
import traceback

MB = 1024 * 1024


class _Capped(io.TextIOBase):
    """A text stream that keeps the first `limit` characters and counts the rest."""

    def __init__(self, limit):
        self.limit, self.parts, self.size, self.dropped = limit, [], 0, 0

    def writable(self):
        return True

    def write(self, s):
        keep = max(0, min(len(s), self.limit - self.size))
        if keep:
            self.parts.append(s[:keep])
            self.size += keep
        self.dropped += len(s) - keep
        return len(s)

    def text(self):
        more = f"\n[... {self.dropped} characters dropped]" if self.dropped else ""
        return "".join(self.parts) + more


def _limit(kind, value):
    try:
        resource.setrlimit(kind, (value, value))
    except (ValueError, OSError):
        pass


def _apply_limits(req):
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past RLIMIT_FSIZE fails, not kills
    _limit(resource.RLIMIT_AS, req["memory_mb"] * MB)
    _limit(resource.RLIMIT_CPU, req["cpu_s"])
    _limit(resource.RLIMIT_FSIZE, 0)
    _limit(resource.RLIMIT_NPROC, 0)
    _limit(resource.RLIMIT_CORE, 0)
    _limit(resource.RLIMIT_NOFILE, req["max_open_files"])
    sys.setrecursionlimit(req["recursion_limit"])


REFUSED = []  # every refusal a guard made: a candidate that caught one is rejected all the same


def _refusal(message, kind=PermissionError):
    REFUSED.append(message)
    return kind(message)


def _refuse(what):
    def refused(*args, **kwargs):
        raise _refusal(f"{what} is not allowed in the sandbox")
    return refused


def _disarm_os():
    """Modules on the allow-list import os internally; take its dangerous calls away."""
    for name in ("system", "popen", "fork", "forkpty", "vfork", "kill", "killpg", "remove",
                 "unlink", "rmdir", "removedirs", "rename", "replace", "mkdir", "makedirs",
                 "chmod", "chown", "symlink", "link", "truncate", "putenv", "unsetenv", "chdir",
                 "setuid", "setgid", "_exit", "abort", "execv", "execve", "execl", "execle",
                 "execlp", "execlpe", "execvp", "execvpe", "spawnv", "spawnve", "posix_spawn",
                 "posix_spawnp"):
        if hasattr(os, name):
            setattr(os, name, _refuse(f"os.{name}"))
            if hasattr(sys.modules.get("posix"), name):  # os's functions come from posix
                setattr(sys.modules["posix"], name, _refuse(f"os.{name}"))
    sys.exit = _refuse("sys.exit")


def _safe_builtins(req, root):
    allowed = set(req["allowed_modules"])
    real_import, real_open = builtins.__import__, builtins.open

    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        if level or (name.split(".")[0] not in allowed and name not in allowed):
            raise _refusal(f"imported {name}, not allowed", ImportError)
        return real_import(name, globals, locals, fromlist, level)

    def guarded_open(file, mode="r", *args, **kwargs):
        if not isinstance(file, (str, bytes, os.PathLike)):
            raise _refusal("open takes a path inside the sandbox dir, not a descriptor")
        path = os.path.realpath(os.fsdecode(file))
        if os.path.commonpath([path, root]) != root:
            raise _refusal(f"opened {file}, outside the sandbox dir, not allowed")
        if set(mode) - set("rbt") and not req["allow_write"]:
            raise _refusal(f"opened {file} for writing, not allowed")
        return real_open(path, mode, *args, **kwargs)

    safe = {k: v for k, v in vars(builtins).items() if k not in set(req["forbidden_names"])}
    safe["__import__"] = guarded_import  # the import statement still needs it
    safe["open"] = guarded_open
    return safe


def outcome(run, req, source="<candidate>"):
    """Call `run()`; the result dict with the candidate's failure, if any, in words (a line
    number is one of the candidate's, whose file name starts with `source`)."""
    result = {"ok": False, "value": None, "error": None}
    try:
        result.update(ok=True, value=run())
    except MemoryError:
        result["error"] = f"MemoryError: exceeded the memory limit of {req['memory_mb']} MB"
    except RecursionError:
        result["error"] = f"RecursionError: exceeded the recursion limit of {req['recursion_limit']}"
    except BaseException as e:  # SystemExit and KeyboardInterrupt too: report, never leave
        tb = traceback.extract_tb(e.__traceback__)
        where = next((f" (line {f.lineno})" for f in reversed(tb) if f.filename.startswith(source)), "")
        result["error"] = f"{type(e).__name__}: {e}{where}"
    if result["ok"] and REFUSED:
        result.update(ok=False, value=None, error=f"refused in the sandbox (the candidate caught it): {REFUSED[0]}")
    return result


def main():
    req = json.loads(sys.stdin.read())
    root = os.path.realpath(os.getcwd())
    out, err = _Capped(req["max_output_chars"]), _Capped(req["max_output_chars"])
    real_stdout = sys.stdout
    namespace = {"__builtins__": _safe_builtins(req, root), "__name__": "candidate"}
    _apply_limits(req)
    _disarm_os()

    def call():
        exec(compile(req["code"], "<candidate>", "exec"), namespace)
        func = namespace.get(req["func_name"])
        if not callable(func):
            raise NameError(f"the code does not define a function named {req['func_name']}")
        value = func(*req["args"], **req["kwargs"])
        try:
            return json.loads(json.dumps(value))
        except (TypeError, ValueError) as e:
            raise TypeError(f"the return value is not JSON-serializable: {e}") from None

    start = time.perf_counter()
    sys.stdout, sys.stderr = out, err
    try:
        result = outcome(call, req)
    finally:
        sys.stdout, sys.stderr = real_stdout, sys.__stderr__
    result.update(stdout=out.text(), stderr=err.text(), duration_s=time.perf_counter() - start)
    real_stdout.write(json.dumps(result))
    real_stdout.flush()


if __name__ == "__main__":
    main()
