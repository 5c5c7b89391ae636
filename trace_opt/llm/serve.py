"""Run a server module (llama_cpp.server) and exit when the process that started it dies.

Started as a script by local.py: `python serve.py PARENT_PID MODULE ARGS...`. atexit stops
the server on a normal exit; this watchdog covers SIGKILL and crashes, so no orphaned
model server keeps its memory after the user's process is gone. faulthandler writes the
Python stack of a fatal signal (SIGSEGV, SIGILL, ...) to the log, which the client quotes.
"""
import faulthandler
import os
import runpy
import sys
import threading
import time


def _watch(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(0.5)
    os._exit(0)


def main() -> None:
    parent_pid, module, args = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    faulthandler.enable()
    threading.Thread(target=_watch, args=(parent_pid,), daemon=True).start()
    sys.argv = [module, *args]
    sys.path[0] = os.getcwd()  # like `python -m`: the working directory, not this file's folder
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
