"""Attacks on the isolation boundary with harmless payloads, through the three real paths:
`to.sandbox.run`, an optimizer's trial of proposed code, and accepted code called later in a
Trainer run. The policy is widened (os, sys, socket, subprocess, signal, ctypes, gc allowed;
the static check off where it would stop them first) so each attack reaches the kernel's
boundary: a canary dir and a planted secret file outside the sandbox, a loopback listener and
`sleep` processes this test owns, the host's own pid. Each attempt must fail to touch the host.

The optimizer's LLM is a scripted fake (tests/optim/scripted_llm.py), NOT a recording.
"""
import os
import signal
import socket
import subprocess
import sys

import pytest

import trace_opt as to
from trace_opt.optim import CodeTrial
from trace_opt.sandbox import DEFAULT_POLICY, run
from trace_opt.train import Trainer

from ..optim.scripted_llm import ScriptedLLM
from .test_hostile_code import HEADER, Shouter, exact

OPEN = DEFAULT_POLICY.widen(modules=["os", "sys", "socket", "subprocess", "signal", "ctypes", "gc", "io",
                                     "pathlib", "typing", "builtins"],
                            names=["open", "exec", "eval", "compile", "__import__", "globals", "vars"],
                            attributes=["system", "fork", "kill", "_exit", "__globals__", "__class__",
                                        "__subclasses__", "__bases__", "__dict__", "exit"],
                            allow_write=True, check_static=False)
SECRET = "sk-planted-0123456789abcdef"


@pytest.fixture()
def host(tmp_path, monkeypatch):
    """What the attacks aim at, and a check that none of it changed."""
    canary = tmp_path / "canary"
    canary.mkdir()
    (canary / "keep.txt").write_text("unchanged")
    (tmp_path / "secret.txt").write_text(SECRET)
    monkeypatch.setenv("TRACE_OPT_TEST_API_KEY", SECRET)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    sleepers = [subprocess.Popen(["sleep", "120"]) for _ in range(2)]
    target = {"canary": str(canary), "secret": str(tmp_path / "secret.txt"), "port": listener.getsockname()[1],
              "pids": [p.pid for p in sleepers], "host": os.getpid()}
    yield target
    try:
        connection, _ = listener.accept()
        connection.close()
        connected = True
    except BlockingIOError:
        connected = False
    listener.close()
    alive = [p.poll() is None for p in sleepers]
    for p in sleepers:
        p.kill()
        p.wait()
    assert not connected, "a candidate reached the test's loopback listener"
    assert all(alive), "a candidate killed a process of the host"
    assert sorted(os.listdir(canary)) == ["keep.txt"] and (canary / "keep.txt").read_text() == "unchanged"


def attacks(t):
    """(name, function body) pairs: each returns what it got, or raises; none may reach the host."""
    c, s = t["canary"], t["secret"]
    return [
        ("os.open reads a file outside", f"    import os\n    return os.read(os.open({s!r}, os.O_RDONLY), 100)\n"),
        ("io.open creates in the canary", f"    import io\n    io.open({c!r} + '/new', 'w').write('x')\n"),
        ("O_TRUNC empties a file outside", f"    import os\n    os.open({c!r} + '/keep.txt', os.O_WRONLY | os.O_TRUNC)\n"),
        ("subprocess", f"    import subprocess\n    subprocess.run(['touch', {c!r} + '/spawned'])\n"),
        ("posix_spawn", f"    import os\n    os.posix_spawn('/usr/bin/touch', ['touch', {c!r} + '/x'], {{}})\n"),
        ("fork", "    import os\n    return os.fork()\n"),
        ("kill the host's sleepers", f"    import os\n    for pid in {t['pids']!r}:\n        os.kill(pid, 9)\n"),
        ("kill the trainer", f"    import os\n    os.kill({t['host']}, 9)\n"),
        ("pidfd kill", f"    import os, signal\n    signal.pidfd_send_signal(os.pidfd_open({t['pids'][0]}), 9)\n"),
        ("connect to loopback", f"    import socket\n    socket.create_connection(('127.0.0.1', {t['port']}), 1)\n"),
        ("read the environment", "    import os\n    return dict(os.environ), open('/proc/self/environ').read()\n"),
        ("find a key with gc", f"    import gc\n    return [o for o in gc.get_objects() if isinstance(o, str) and 'planted' in o]\n"),
        ("escape by subclasses", "    return [k.__name__ for k in ().__class__.__bases__[0].__subclasses__()][:3]\n"),
        ("ctypes syscall fork", "    import ctypes\n    return ctypes.CDLL(None).syscall(57)\n"),
        ("exec a shell", f"    import os\n    os.execv('/bin/sh', ['sh', '-c', 'touch {c}/exec'])\n"),
        ("raise SystemExit", "    raise SystemExit(0)\n"),
        ("raise KeyboardInterrupt", "    raise KeyboardInterrupt\n"),
        ("a value nested 100,000 deep", "    v = []\n    for _ in range(100000):\n        v = [v]\n    return v\n"),
        ("a 200 MB value", "    return 'x' * (200 * 1024 * 1024)\n"),
        ("forge a result on every fd", "    import os\n    for fd in range(64):\n        try:\n"
         "            os.write(fd, b'\\x00\\x00\\x00\\x0b{\"ok\":true}')\n        except OSError:\n            pass\n"
         "    os._exit(0)\n"),
        ("patch the host's math", "    import math\n    math.sqrt = lambda x: 42.0\n    return math.sqrt(4)\n"),
    ]


HARMLESS_WHEN_RUN = {
    "read the environment": lambda value: "TRACE_OPT_TEST_API_KEY" not in str(value),
    "find a key with gc": lambda value: value == [],
    "escape by subclasses": lambda value: isinstance(value, list),
    "ctypes syscall fork": lambda value: value == -1,  # the kernel said no
    "patch the host's math": lambda value: value == 42.0,  # the worker's own math
}


def _leaks(text):
    return SECRET in str(text) or SECRET[::-1] in str(text)


def test_every_attack_through_sandbox_run_fails_to_touch_the_host(host):
    for name, body in attacks(host):
        result = run("def f():\n" + body, "f", timeout=5, policy=OPEN)
        assert not _leaks(result.value) and not _leaks(result.error) and not _leaks(result.stdout), name
        if name in HARMLESS_WHEN_RUN:  # it may run: what it gets is its own worker's
            assert not result.ok or HARMLESS_WHEN_RUN[name](result.value), (name, result.value)
        else:
            assert not result.ok, (name, result.value)
    import math
    assert math.sqrt(4) == 2.0


def test_the_timeout_kills_the_whole_sandbox_and_run_returns(host):
    result = run("def f():\n    import os\n    while True:\n        pass\n", "f", timeout=1.0, policy=OPEN)
    assert not result.ok and result.error.startswith("timeout") and result.duration_s < 5
    left = subprocess.run(["pgrep", "-f", "trace_opt_worker/_worker.py"], capture_output=True, text=True).stdout
    assert left.strip() == "" or all(int(pid) in _pool_pids() for pid in left.split())


def _pool_pids():
    from trace_opt.sandbox.function import POOL
    return {pid for worker in POOL.idle.values() for pid in [worker.process.pid, *worker._worker_pids()]}


class Agent(Shouter):
    """The hostile-code suite's agent, holding a credential that never crosses to a worker."""

    def __init__(self):
        super().__init__()
        self.api_key = SECRET


def test_every_attack_in_a_trial_is_a_rejection_and_the_trainer_carries_on(host, tmp_path):
    cases = attacks(host) + [("read the key on self", "    return self.api_key\n")]
    good = HEADER + "    return question.upper()\n"
    replies = [{"suggestion": {"answer": HEADER + body}} for _, body in cases] + [{"suggestion": {"answer": good}}]
    agent, llm = Agent(), ScriptedLLM(replies)
    optimizer = to.optim.OptoPrime(agent.parameters(), llm=llm, code_trial=CodeTrial(policy=OPEN, timeout=5))
    rows = [(f"q {i}", f"Q {i}") for i in range(len(replies))]
    result = Trainer(agent, optimizer, rows, guide=exact, batch_size=1, checkpoint_dir=tmp_path / "run",
                     progress=False).fit()
    assert result.reason == "done" and result.steps == len(replies)
    events = (tmp_path / "run" / "events.jsonl").read_text()
    assert not _leaks(events) and not any(_leaks(m["content"]) for call in llm.calls for m in call["messages"])
    assert agent.answer.parameter.data == good and agent(to.node("ok")).data == "OK"


def test_accepted_code_that_attacks_later_is_a_failed_call_and_the_run_ends_cleanly(host, tmp_path):
    """Time bombs: each behaves in its trial (its first call) and attacks at every later call, in
    the worker it was accepted in; the run goes on to its end."""
    counter = "    import string\n    string.calls = getattr(string, 'calls', 0) + 1\n"
    for name, body in attacks(host):
        indented = "".join("    " + line + "\n" for line in body.splitlines())
        bomb = HEADER + counter + "    if string.calls > 1:\n" + indented + "    return question.upper()\n"
        agent = Agent()
        optimizer = to.optim.OptoPrime(agent.parameters(), llm=ScriptedLLM([{"suggestion": {"answer": bomb}}] * 4),
                                       code_trial=CodeTrial(policy=OPEN, timeout=5))
        result = Trainer(agent, optimizer, [("q", "Q")] * 3, guide=exact, batch_size=1,
                         checkpoint_dir=tmp_path / name.replace(" ", "_"), progress=False).fit()
        assert result.reason == "done", name
        events = (tmp_path / name.replace(" ", "_") / "events.jsonl").read_text()
        assert '"run_end"' in events and not _leaks(events), name
    import math
    assert math.sqrt(4) == 2.0 and os.getpid() == host["host"]
    assert signal.getsignal(signal.SIGINT) is not None and sys.modules["os"].system is os.system
