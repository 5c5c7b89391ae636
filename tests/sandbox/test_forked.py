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
    zombies = set(_zombie_children())  # earlier tests' leftovers are not this test's
    start = time.perf_counter()
    result = run_forked(lambda builtins: _compiled("def f():\n    while True:\n        pass\n", builtins)(),
                        timeout=1.0)
    assert not result.ok and result.error == "timeout: still running after 1 s, killed"
    assert time.perf_counter() - start < 5
    assert set(_zombie_children()) <= zombies  # the child was killed and reaped


def _zombie_children():
    return [pid for pid, state in _child_states() if state == "Z"]


def _children():
    return [pid for pid, state in _child_states() if state != "Z"]


def _child_states():
    """(pid, state) of this process's children, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == os.getpid():
            found.append((int(entry), fields[0]))
    return found


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


def test_the_child_keeps_no_inherited_descriptor(tmp_path):
    with open(tmp_path / "log.txt", "w") as log:
        def call(builtins):
            os.fstat(log.fileno())  # the parent's open log

        result = run_forked(call)
    assert not result.ok and "Bad file descriptor" in result.error


@pytest.mark.skipif(os.geteuid() != 0, reason="a network namespace of its own needs root (or user namespaces)")
def test_the_child_has_no_network():
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]

    def call(builtins):
        socket.create_connection(("127.0.0.1", port), timeout=2)

    try:
        result = run_forked(call)
    finally:
        server.close()
    assert not result.ok
    assert any(word in result.error for word in ("Network is unreachable", "Connection refused", "OSError")), result.error


def test_an_interrupt_while_waiting_kills_the_child_before_it_propagates():
    import signal
    import threading

    main = threading.main_thread().ident
    before, zombies = set(_children()), set(_zombie_children())  # earlier tests' leftovers (Ray, servers)
    timer = threading.Timer(0.3, lambda: signal.pthread_kill(main, signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        run_forked(lambda builtins: time.sleep(30), timeout=20)
    timer.join()
    assert set(_zombie_children()) <= zombies and set(_children()) <= before



def test_as_root_the_child_runs_as_nobody_where_nobody_can_read_the_standard_library():
    from trace_opt.sandbox.forked import _stdlib_open_to_all

    if os.geteuid() != 0 or not _stdlib_open_to_all():
        pytest.skip("needs root and a standard library open to all (a Python under /root is not)")

    def call(builtins):
        if os.geteuid() != 65534:
            raise AssertionError(f"running as uid {os.geteuid()}")

    assert run_forked(call).ok


def test_a_large_output_or_error_message_keeps_its_verdict():
    def loud(builtins):
        print("\N{GRINNING FACE}" * 10_000)

    def long_error(builtins):
        raise ValueError("\N{GRINNING FACE}" * 10_000)

    assert run_forked(loud).ok
    result = run_forked(long_error)
    assert not result.ok and result.error.startswith("ValueError: \N{GRINNING FACE}")
