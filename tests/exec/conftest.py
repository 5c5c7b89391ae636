"""Executors for the tests: fresh thread and asyncio ones per test, one local Ray cluster per session."""
import importlib.util

import pytest

from trace_opt.exec import AsyncExecutor, RayExecutor, ThreadExecutor

HAVE_RAY = importlib.util.find_spec("ray") is not None
NO_RAY = "ray is not installed (pip install 'trace-opt-framework[ray]'); it is not in requirements/test.lock"


@pytest.fixture(scope="session")
def ray_executor():
    if not HAVE_RAY:
        pytest.skip(NO_RAY)
    with RayExecutor(num_cpus=2) as executor:  # what the acceptance test asks: a local cluster, 2 CPUs
        yield executor


@pytest.fixture(params=["thread", "async", "ray"])
def executor(request):
    """Each executor in turn: the shared behaviour must be the same on all three."""
    if request.param == "ray":
        yield request.getfixturevalue("ray_executor")
        return
    with (ThreadExecutor(8) if request.param == "thread" else AsyncExecutor(8)) as local:
        yield local


@pytest.fixture(params=["thread", "async"])
def local_executor(request):
    """The executors that run rollouts in this process (they share graph objects with the caller)."""
    with (ThreadExecutor(16) if request.param == "thread" else AsyncExecutor(16)) as local:
        yield local
