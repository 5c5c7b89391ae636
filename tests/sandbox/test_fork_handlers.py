"""Isolation keeps working in a process whose libraries start threads in forked children (wandb's
at-fork handlers do): as root, the user namespace is entered by a fresh holder process, not in a
preexec_fn after fork, where unshare(CLONE_NEWUSER) fails once a second thread exists."""
import subprocess
import sys

SCRIPT = """
import os, threading, time
os.register_at_fork(after_in_child=lambda: threading.Thread(target=time.sleep, args=(2,), daemon=True).start())
from trace_opt.sandbox import run
result = run("def double(x):\\n    return 2 * x\\n", "double", args=(21,))
print(result.ok, result.value, result.error)
"""


def test_code_runs_isolated_after_a_library_starts_threads_in_forked_children():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[:2] == ["True", "42"], out.stdout
