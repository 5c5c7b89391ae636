"""Ray: a clear error without it, a local 2-CPU cluster with it; what comes back from a worker."""
import sys
import threading

import pytest

import trace_opt as to
from trace_opt.exec import RayExecutor, RolloutError
from trace_opt.graph import ancestors

from .conftest import HAVE_RAY, NO_RAY

needs_ray = pytest.mark.skipif(not HAVE_RAY, reason=NO_RAY)


def test_without_ray_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails as if it were not installed
    with pytest.raises(ImportError, match=r"pip install 'trace-opt-framework\[ray\]'"):
        RayExecutor()


def test_bad_cluster_options_are_clear_errors():
    with pytest.raises(ValueError, match="pass one of address= or num_cpus="):
        RayExecutor(address="auto", num_cpus=2)
    with pytest.raises(ValueError, match="cpus_per_rollout=...\\) must be > 0, got 0"):
        RayExecutor(cpus_per_rollout=0)


def test_import_trace_opt_exec_does_not_import_ray():
    import subprocess

    code = "import trace_opt, trace_opt.exec, sys; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@to.bundle()
def add_one(x):
    """x + 1"""
    return x + 1


class Shouter(to.Module):
    def __init__(self):
        super().__init__()
        self.greeting = to.Parameter("hello ", description="what to say first")

    @to.bundle(trainable=True)
    def shout(self, text):
        """Upper-case the text."""
        return text.upper()

    def forward(self, name):
        return self.shout(self.greeting + name)


@needs_ray
def test_graphs_come_back_ending_at_the_drivers_own_parameters(ray_executor):
    agent = Shouter()
    greeting, code = agent.parameters()  # listing them makes the method's code parameter exist
    outputs = ray_executor.map(agent, ["ann", "bob"])
    assert [out.data for out in outputs] == ["HELLO ANN", "HELLO BOB"]
    leaves = {id(n) for out in outputs for n in ancestors(out) if not n.parents}
    assert id(greeting) in leaves and id(code) in leaves
    for out in outputs:
        out.backward("too loud")
    assert len(greeting.feedback) == 2 and len(code.feedback) == 2  # as it would be on threads


@needs_ray
def test_a_function_bundle_output_comes_back_too(ray_executor):
    offset = to.Parameter(10, description="offset")
    outputs = ray_executor.map(lambda i: add_one(offset + i), [1, 2])
    assert [out.data for out in outputs] == [12, 13]
    assert outputs[0].parents[0].parents[0] is offset


@to.bundle()
def parse_score(reply):
    """The score at the end of the reply."""
    return int(reply.split()[-1])


@needs_ray
def test_a_failed_traced_operation_comes_back_with_its_exception_node(ray_executor):
    template = to.Parameter("score: 7", description="reply template")
    results = ray_executor.map(lambda suffix: parse_score(template + suffix), ["", " (none)"])
    error = results[1]
    assert results[0].data == 7 and isinstance(error, RolloutError) and error.exception is None
    assert error.error_type == "TraceExecutionError" and "invalid literal" in error.message
    error.node.backward(str(error))
    assert [record.feedback.text for record in template.feedback] == [str(error)]


@needs_ray
def test_a_result_that_cannot_come_back_is_a_rollout_error(ray_executor):
    results = ray_executor.map(lambda i: threading.Lock() if i == 1 else i, range(3))
    assert results[0] == 0 and results[2] == 2
    assert isinstance(results[1], RolloutError) and results[1].index == 1
    assert results[1].error_type == "TypeError" and "could not come back" in results[1].message
    assert results[1].exception is None


@needs_ray
def test_a_rollout_function_that_cannot_travel_is_a_clear_error(ray_executor):
    lock = threading.Lock()
    with pytest.raises(TypeError, match="cannot be sent to Ray workers .*create clients, locks and files inside"):
        ray_executor.map(lambda i: lock.locked(), [1])


@needs_ray
def test_rollouts_on_ray_get_the_callers_tracing_switch(ray_executor):
    with to.no_trace():
        quiet = ray_executor.map(lambda i: bool((to.node(i) + 1).parents), range(2))
    assert quiet == [False, False]
    assert ray_executor.map(lambda i: bool((to.node(i) + 1).parents), range(2)) == [True, True]


@needs_ray
def test_rollouts_on_ray_run_concurrently(ray_executor):
    import time

    ray_executor.map(time.sleep, [0.0, 0.0])  # start both workers first: process start-up is not overlap
    started = time.perf_counter()
    ray_executor.map(time.sleep, [0.5] * 4)
    assert time.perf_counter() - started < 1.9  # 2 CPUs: about 1 s; one after another, 2 s
