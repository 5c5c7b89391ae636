"""Hostile candidates (issue 6): each costs one rejected candidate with its reason, and the
host process is unchanged (same pid, cwd, environment, no new files outside tmp)."""
import os
import tempfile
from pathlib import Path

import pytest

from trace_opt.sandbox import Policy, run, run_trusted

# The run-time layer alone, as if the static check had missed something.
RUNTIME_ONLY = Policy(check_static=False)


@pytest.fixture(autouse=True)
def host_unchanged(tmp_path, monkeypatch):
    """Every hostile run leaves the host's cwd, pid, working dir and temp dir as they were."""
    monkeypatch.chdir(tmp_path)
    pid, before, temp_before = os.getpid(), sorted(os.listdir(tmp_path)), _sandbox_dirs()
    yield
    assert os.getpid() == pid and Path.cwd() == tmp_path
    assert sorted(os.listdir(tmp_path)) == before
    assert _sandbox_dirs() == temp_before  # each run's own dir is removed


def _sandbox_dirs():
    return sorted(p.name for p in Path(tempfile.gettempdir()).glob("trace_opt_sandbox_*"))


def test_normal_function_returns_its_value_and_output():
    r = run("def f(x, y=1):\n    print('working')\n    return {'sum': x + y}\n", "f", (2,), {"y": 3})
    assert (r.ok, r.value, r.error, r.stdout) == (True, {"sum": 5}, None, "working\n")


def test_infinite_loop_is_killed_at_the_timeout():
    r = run("def f():\n    while True:\n        pass\n", "f", timeout=1.0)
    assert not r.ok and r.error.startswith("timeout") and "killed" in r.error
    assert r.duration_s < 5


def test_os_system_is_rejected_without_running():
    r = run("import os\ndef f():\n    os.system('touch /tmp/owned_by_candidate')\n", "f")
    assert not r.ok and r.error.startswith("rejected: imported os, not allowed")
    assert r.duration_s == 0.0 and not Path("/tmp/owned_by_candidate").exists()


def test_reading_a_system_file_is_refused_at_run_time():
    r = run("def f():\n    return open('/etc/passwd').read()\n", "f")
    assert not r.ok and r.error == "PermissionError: opened /etc/passwd, outside the sandbox dir, not allowed (line 2)"


def test_fork_is_rejected_statically():
    r = run("import os\ndef f():\n    return os.fork()\n", "f")
    assert not r.ok and "imported os, not allowed" in r.error and "attribute fork" in r.error


def test_dynamic_import_of_os_is_rejected_statically_and_at_run_time():
    code = "def f():\n    return __import__('o' + 's').fork()\n"
    static = run(code, "f").error
    assert static.startswith("rejected:") and "used __import__, not allowed" in static
    r = run(code, "f", policy=RUNTIME_ONLY)
    assert not r.ok and r.error == "ImportError: imported os, not allowed (line 2)"


def test_fork_through_an_allowed_module_fails_at_run_time():
    r = run("import random\ndef f():\n    return random._os.fork()\n", "f", policy=RUNTIME_ONLY)
    assert not r.ok and r.error == "PermissionError: [Errno 1] Operation not permitted (line 3)"  # seccomp


def test_20_gb_allocation_hits_the_memory_limit():
    r = run("def f():\n    return len(bytearray(20 * 2**30))\n", "f", memory_mb=512)
    assert not r.ok and r.error == "MemoryError: exceeded the memory limit of 512 MB"


def test_deep_recursion_is_reported():
    r = run("def f(n=0):\n    return f(n + 1)\n", "f")
    assert not r.ok and r.error.startswith("RecursionError")


def test_sys_exit_is_rejected_and_a_raised_system_exit_is_reported():
    assert run("import sys\ndef f():\n    sys.exit(3)\n", "f").error.startswith("rejected: imported sys")
    r = run("def f():\n    raise SystemExit(3)\n", "f")
    assert not r.ok and r.error == "SystemExit: 3 (line 2)"


def test_planted_secret_is_not_visible_in_the_child(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-planted-secret")
    # os is allowed here on purpose, to look at the environment the child really got.
    wide = Policy().widen(modules={"os"}, check_static=False)
    r = run("import os\ndef f():\n    return dict(os.environ)\n", "f", policy=wide)
    assert r.ok and "OPENAI_API_KEY" not in r.value
    assert "sk-test" not in str(r.value)


def test_writing_a_file_fails_even_when_the_static_check_is_off():
    r = run("def f():\n    open('out.txt', 'w').write('x')\n", "f", policy=RUNTIME_ONLY)
    assert not r.ok and r.error == "PermissionError: opened out.txt for writing, not allowed (line 2)"


def test_output_is_truncated():
    r = run("def f():\n    print('x' * 50000)\n", "f", policy=Policy(max_output_chars=100))
    assert r.ok and r.stdout.startswith("x" * 100) and "characters dropped" in r.stdout


def test_non_json_arguments_and_results_become_reasons():
    assert run("def f(x):\n    return 1\n", "f", (object(),)).error.startswith("rejected: the arguments cannot go to isolated code")
    assert run("def f():\n    return {1, 2}, (3,)\n", "f").value == ({1, 2}, (3,))  # plain data keeps its type
    assert "a object is not plain data" in run("def f():\n    return object()\n", "f").error


def test_run_trusted_runs_in_process_with_real_builtins():
    r = run_trusted("import os\ndef f():\n    return os.getpid()\n", "f")
    assert r.ok and r.value == os.getpid()
    assert run_trusted("import sys\ndef f():\n    sys.exit(2)\n", "f").error == "SystemExit: 2"
