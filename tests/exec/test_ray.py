"""Ray: a clear error without it, a local 2-CPU cluster with it; what comes back from a worker."""
import sys
import threading

import pytest

import trace_opt as to
from trace_opt.exec import RayExecutor, RolloutError

from .conftest import HAVE_RAY, NO_RAY

needs_ray = pytest.mark.skipif(not HAVE_RAY, reason=NO_RAY)


def test_without_ray_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails as if it were not installed
    with pytest.raises(ImportError, match=r"pip install 'trace-opt-framework\[ray\]'"):
        RayExecutor()


def test_num_cpus_is_refused_when_joining_a_cluster():
    with pytest.raises(ValueError, match="pass one of address= or num_cpus="):
        RayExecutor(address="auto", num_cpus=2)


def test_import_trace_opt_exec_does_not_import_ray():
    import subprocess

    code = "import trace_opt, trace_opt.exec, sys; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@to.bundle()
def add_one(x):
    """x + 1"""
    return x + 1


@needs_ray
def test_nodes_come_back_as_detached_copies(ray_executor):
    param = to.Parameter(10, description="offset")
    outputs = ray_executor.map(lambda i: add_one(param + i), [1, 2])
    assert [out.data for out in outputs] == [12, 13]
    copy = outputs[0].parents[0].parents[0]
    assert copy.data == 10 and copy is not param  # the worker's copy of the parameter
    outputs[0].backward("too big")
    assert param.feedback == [] and len(copy.feedback) == 1  # so Ray rollouts should return plain data


@needs_ray
def test_a_result_that_cannot_come_back_is_a_rollout_error(ray_executor):
    results = ray_executor.map(lambda i: threading.Lock() if i == 1 else i, range(3))
    assert results[0] == 0 and results[2] == 2
    assert isinstance(results[1], RolloutError) and results[1].index == 1
    assert results[1].error_type == "TypeError" and "return plain data" in results[1].message
    assert results[1].exception is None


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
