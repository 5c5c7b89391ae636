"""The isolated worker: runs inside bubblewrap (`python -I -S -B _worker.py IN OUT`), stdlib only.

It leaves root where the sandbox started it as root of its namespace, sets its rlimits, loads
the second seccomp filter (no exec, no change of user), then serves frames from the host: one
`load` of the candidate's code, then `call`s. Proposed code runs here and nowhere else; what it
sees is what the frames carried: plain data, the allowed modules, and callbacks that ask the
host to run one of the instance's (or module's) traced functions on plain data. The guarded
builtins give the LLM useful errors; the boundary is the kernel's (namespaces, seccomp).
"""
import builtins
import ctypes
import io
import os
import resource
import signal
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wire  # noqa: E402 - beside this file, bound read-only into the sandbox

MB = 1024 * 1024
_NOBODY = 65534
_PR_SET_PDEATHSIG, _PR_SET_NO_NEW_PRIVS, _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 1, 38, 22, 2
CODE_FILE = ["<trace_opt code>"]  # the loaded code's file name: its lines in errors



def _finished(result):
    """An ``async def``'s coroutine, run to its end without an event loop (the sandbox has none:
    asyncio's needs a socketpair); awaiting real I/O or timers fails with asyncio's own error."""
    if not hasattr(result, "send") or not hasattr(result, "throw") or not hasattr(result, "__await__"):
        return result
    try:
        while True:
            result.send(None)
    except StopIteration as stop:
        return stop.value

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


class _LoadFailed(Exception):
    """The code did not load; every call reports why."""


class CallbackError(Exception):
    """A traced function the host ran for this code raised; its message says what."""


class _Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _load_filter(program: bytes) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _Fprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or \
            libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "could not load the seccomp filter")


def _limit(kind, value):
    resource.setrlimit(kind, (value, value))


def set_up(config):
    """Become nobody, take the limits and the last filter; from here on, no way back."""
    if os.getuid() == 0:  # root of the sandbox's own user namespace, only to leave it
        os.setgroups([])
        os.setgid(_NOBODY)
        os.setuid(_NOBODY)
    if os.getuid() == 0 or os.geteuid() == 0:
        raise OSError("the worker is still root")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # a change of user cleared bubblewrap's
    _limit(resource.RLIMIT_CORE, 0)
    _limit(resource.RLIMIT_AS, config["memory_mb"] * MB)
    _limit(resource.RLIMIT_FSIZE, config["scratch_mb"] * MB)
    _limit(resource.RLIMIT_NOFILE, config["max_open_files"])
    resource.setrlimit(resource.RLIMIT_CPU, (config["cpu_s"], config["cpu_s"]))
    null = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):  # nothing written to a standard descriptor reaches anyone
        os.dup2(null, target)
    os.close(null)
    import base64
    _load_filter(base64.b64decode(config["exec_filter"]))
    sys.path.extend(config["paths"])
    sys.setrecursionlimit(config["recursion_limit"] + 50)


class Worker:
    """One loaded function and the channel to the host."""

    def __init__(self, in_fd, out_fd, config):
        self.in_fd, self.out_fd, self.config = in_fd, out_fd, config
        self.func = self.load_error = None
        self.current_id = None

    # -- the channel --------------------------------------------------------------------
    def send(self, message):
        wire.write_frame(self.out_fd, message)

    def receive(self):
        return wire.read_frame(self.in_fd, 1 << 30)

    def callback(self, target, name, args, kwargs):
        """Ask the host to run a traced function on plain data; serve nested calls meanwhile."""
        self.send({"op": "callback", "id": self.current_id, "target": target, "name": name,
                   "args": wire.encode(list(args)), "kwargs": wire.encode(dict(kwargs))})
        while True:
            message = self.receive()
            if message["op"] == "call":
                self.serve_call(message)
                continue
            if message.get("ok"):
                return wire.decode(message["value"])
            raise CallbackError(message.get("error") or "the host refused the call")

    # -- loading and calling --------------------------------------------------------------
    def load(self, message):
        namespace = _Globals(message.get("unavailable", {}))
        namespace.update({"__builtins__": safe_builtins(self.config), "__name__": "candidate"})
        namespace.update(wire.decode(message.get("constants", {})))
        for name, module in message.get("modules", {}).items():
            namespace[name] = __import__(module, fromlist=["_"])
        for name in message.get("callbacks", []):
            namespace[name] = _remote(self, "global", name)
        CODE_FILE[0] = message.get("filename") or CODE_FILE[0]
        code = compile(message["code"], CODE_FILE[0], "exec")
        exec(code, namespace)  # noqa: S102 - inside the sandbox: this is what it is for
        func = namespace.get(message["func_name"])
        if not callable(func):
            raise NameError(f"the code does not define a function named {message['func_name']}")
        self.func = func

    def serve_call(self, message):
        outer, self.current_id = self.current_id, message["id"]
        out, err = _Capped(self.config["max_output_chars"]), _Capped(self.config["max_output_chars"])
        saved = sys.stdout, sys.stderr
        reply = {"op": "result", "id": message["id"], "ok": False, "value": None, "error": None}
        used = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
        soft = min(self.config["cpu_s"], int(used + message.get("timeout", 10) + 2))
        resource.setrlimit(resource.RLIMIT_CPU, (soft, self.config["cpu_s"]))
        sys.stdout, sys.stderr = out, err
        try:
            if self.load_error:
                raise _LoadFailed(self.load_error)
            args = wire.decode(message.get("args", []))
            kwargs = wire.decode(message.get("kwargs", {}))
            view = message.get("self")
            if view is not None:
                args = [InstanceView(self, view)] + list(args)
            value = wire.encode(_finished(self.func(*args, **kwargs)), self.config["max_depth"])
            size = len(wire.dumps(value))
            if size > self.config["max_result_bytes"]:
                raise ValueError(f"the return value is {size} bytes, over the limit of "
                                 f"{self.config['max_result_bytes']}")
            reply.update(ok=True, value=value)
        except _LoadFailed as exc:
            reply["error"] = str(exc)
        except BaseException as exc:  # SystemExit and KeyboardInterrupt too: a failed call
            reply["error"] = describe(exc, self.config)
        finally:
            sys.stdout, sys.stderr = saved
            self.current_id = outer
        reply.update(stdout=out.text(), stderr=err.text())
        self.send(reply)

    def serve(self):
        while True:
            message = self.receive()
            if message["op"] == "load":
                try:
                    self.load(message)
                    self.send({"op": "loaded", "ok": True})
                except BaseException as exc:
                    self.load_error = describe(exc, self.config)
                    self.send({"op": "loaded", "ok": False, "error": self.load_error})
            elif message["op"] == "call":
                self.serve_call(message)
            elif message["op"] == "exit":
                return


class InstanceView:
    """`self` for isolated method code: a snapshot of the instance's plain attributes, and its
    traced methods as calls back to the host. Setting an attribute changes the snapshot only."""

    def __init__(self, worker, view):
        self.__dict__.update(wire.decode(view.get("attributes", {})))
        object.__setattr__(self, "_InstanceView__methods", set(view.get("methods", [])))
        object.__setattr__(self, "_InstanceView__unavailable", dict(view.get("unavailable", {})))
        object.__setattr__(self, "_InstanceView__worker", worker)

    def __getattr__(self, name):
        if name in self.__methods:
            return _remote(self.__worker, "self", name)
        if name in self.__unavailable:
            raise AttributeError(f"self.{name} (a {self.__unavailable[name]}) is not available to isolated code: "
                                 "it sees the instance's plain-data attributes and its traced methods only")
        raise AttributeError(f"the instance has no attribute {name!r} visible to isolated code")


def _remote(worker, target, name):
    def call(*args, **kwargs):
        return worker.callback(target, name, args, kwargs)
    call.__name__ = name
    return call


class _Globals(dict):
    """Globals of the candidate: a name of the defining module that could not come along as
    data is a NameError that says so."""

    def __init__(self, unavailable):
        super().__init__()
        self.unavailable = unavailable

    def __missing__(self, key):
        scope = dict.get(self, "__builtins__", {})
        if key in scope:
            return scope[key]
        if key in self.unavailable:
            raise NameError(f"name {key!r} (a {self.unavailable[key]}) is not available to isolated code: "
                            "it sees plain-data globals, allowed modules and traced (@bundle) functions")
        raise NameError(f"name {key!r} is not defined")


def safe_builtins(config):
    """The builtins proposed code sees: the policy's names removed, imports from the allow-list."""
    allowed = set(config["allowed_modules"])
    real_import, real_open = builtins.__import__, builtins.open
    scratch = os.path.realpath(os.getcwd())

    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        if level or (name.split(".")[0] not in allowed and name not in allowed):
            raise ImportError(f"imported {name}, not allowed")
        return real_import(name, globals, locals, fromlist, level)

    def guarded_open(file, mode="r", *args, **kwargs):
        if not isinstance(file, (str, bytes, os.PathLike)):
            raise PermissionError("open takes a path inside the sandbox dir, not a descriptor")
        path = os.path.realpath(os.fsdecode(file))
        if os.path.commonpath([path, scratch]) != scratch:
            raise PermissionError(f"opened {file}, outside the sandbox dir, not allowed")
        if set(mode) - set("rbt") and not config["allow_write"]:
            raise PermissionError(f"opened {file} for writing, not allowed")
        return real_open(path, mode, *args, **kwargs)

    safe = {k: v for k, v in vars(builtins).items() if k not in set(config["forbidden_names"])}
    safe["__import__"] = guarded_import
    safe["open"] = guarded_open
    return safe


def describe(exc, config):
    """The candidate's failure in words, with its line number where it has one."""
    if isinstance(exc, MemoryError):
        return f"MemoryError: exceeded the memory limit of {config['memory_mb']} MB"
    if isinstance(exc, RecursionError):
        return f"RecursionError: exceeded the recursion limit of {config['recursion_limit']}"
    frames = traceback.extract_tb(exc.__traceback__)
    where = next((f" (line {f.lineno})" for f in reversed(frames) if f.filename == CODE_FILE[0]), "")
    return f"{type(exc).__name__}: {str(exc)[:2000]}{where}"


def main():
    in_fd, out_fd = int(sys.argv[1]), int(sys.argv[2])
    config = wire.read_frame(in_fd, 1 << 24)
    try:
        set_up(config)
    except BaseException as exc:
        wire.write_frame(out_fd, {"op": "ready", "ok": False, "error": f"{type(exc).__name__}: {exc}"})
        return
    wire.write_frame(out_fd, {"op": "ready", "ok": True, "uid": os.getuid(), "time": time.time()})
    Worker(in_fd, out_fd, config).serve()


if __name__ == "__main__":
    main()
