"""run_forked: a call that needs this process's objects runs in a forked, limited child."""
import os
import time

import pytest

from trace_opt.sandbox import DEFAULT_POLICY, run_forked

SHARED = {"rows": [3, 1, 2]}  # an object of this process the child can use


def _compiled(source, builtins, name="f"):
    namespace = {"__builtins__": builtins, "SHARED": SHARED}
    exec(compile(source, "<candidate>", "exec"), namespace)
    return namespace[name]


def test_the_child_sees_this_process_objects_and_changes_none_of_them():
    def call(builtins):
        _compiled("def f():\n    SHARED['rows'].sort()\n    return SHARED['rows']\n", builtins)()

    result = run_forked(call, source="<candidate")
    assert result.ok and result.error is None
    assert SHARED["rows"] == [3, 1, 2]  # sorted in the child's copy only


def test_an_error_names_its_line_and_output_is_captured():
    def call(builtins):
        _compiled("def f():\n    print('working')\n    return 1 / 0\n", builtins)()

    result = run_forked(call, source="<candidate")
    assert not result.ok and result.error == "ZeroDivisionError: division by zero (line 3)"
    assert result.stdout == "working\n"


def test_the_environment_is_empty_in_the_child(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-PLANTED-forked-0123456789")
    seen = {}

    def call(builtins):
        seen.update(os.environ)
        if os.environ:
            raise AssertionError(f"the child still has {sorted(os.environ)}")

    assert run_forked(call).ok
    assert seen == {} and os.environ["OPENAI_API_KEY"].startswith("sk-test")  # the parent keeps its own


def test_a_loop_is_killed_at_the_timeout_and_leaves_no_process():
    start = time.perf_counter()
    result = run_forked(lambda builtins: _compiled("def f():\n    while True:\n        pass\n", builtins)(),
                        timeout=1.0)
    assert not result.ok and result.error == "timeout: still running after 1 s, killed"
    assert time.perf_counter() - start < 5
    assert _zombie_children() == []  # the child was killed and reaped


def _zombie_children():
    zombies = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] == "Z" and int(fields[1]) == os.getpid():
            zombies.append(int(entry))
    return zombies


def test_memory_is_limited_on_top_of_what_the_parent_holds():
    result = run_forked(lambda builtins: bytearray(4 * 1024 ** 3), memory_mb=256)
    assert not result.ok and result.error.startswith("MemoryError: exceeded the memory limit of 256 MB")


def test_writing_files_and_starting_processes_are_refused_at_run_time(tmp_path):
    target = tmp_path / "written"

    def write(builtins):
        _compiled(f"def f():\n    open({str(target)!r}, 'w').write('x')\n", builtins)()

    def spawn(builtins):
        os.system(f"touch {target}")

    assert "not allowed" in run_forked(write).error
    assert run_forked(spawn).error == "PermissionError: os.system is not allowed in the sandbox"
    assert not target.exists()


def test_torch_works_in_the_child_after_the_parent_used_its_thread_pool():
    """A fork keeps no worker threads: without care, OpenMP in the child waits for them forever."""
    torch = pytest.importorskip("torch")
    a = torch.randn(600, 600)
    float((a @ a).sum())  # the parent's OpenMP pool is up

    def call(builtins):
        b = torch.randn(600, 600)
        return float((b @ b).sum())

    result = run_forked(call, timeout=20, policy=DEFAULT_POLICY)
    assert result.ok, result.error
