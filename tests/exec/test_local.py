"""Threads and asyncio: rollouts really overlap, each keeps its own graph and tracing switch,
and a failed traced operation keeps its exception (and ExceptionNode) for feedback."""
import asyncio
import threading
import time

import pytest

import trace_opt as to
from trace_opt.exec import AsyncExecutor, RolloutError, ThreadExecutor
from trace_opt.graph import ancestors


def nap(i):
    time.sleep(0.2)
    return i


async def async_nap(i):
    await asyncio.sleep(0.2)
    return i


@pytest.mark.parametrize("make, fn", [
    (lambda: ThreadExecutor(16), nap),
    (lambda: AsyncExecutor(16), nap),
    (lambda: AsyncExecutor(16), async_nap),
], ids=["threads", "async-sync-fn", "async-async-fn"])
def test_rollouts_run_concurrently(make, fn):
    # A proof of overlap, not a speed target: one after another these take 3.2 s.
    with make() as executor:
        started = time.perf_counter()
        assert executor.map(fn, range(16)) == list(range(16))
        assert time.perf_counter() - started < 1.6


@pytest.mark.parametrize("make", [lambda: ThreadExecutor(3), lambda: AsyncExecutor(3)], ids=["threads", "async"])
def test_no_more_rollouts_in_flight_than_asked(make):
    lock, running, peak = threading.Lock(), [0], [0]

    def rollout(i):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.02)
        with lock:
            running[0] -= 1
        return i

    with make() as executor:
        assert executor.map(rollout, range(12)) == list(range(12))
    assert peak[0] == 3


def chain(i, barrier):
    """A graph of i + 1 additions from this rollout's own input, built while the others build theirs."""
    out = to.node(i, name=f"input{i}")
    barrier.wait(5)
    for _ in range(i + 1):
        out = out + 1
    return out


def test_graphs_built_in_concurrent_rollouts_never_mix(local_executor):
    barrier = threading.Barrier(8)
    outputs = local_executor.map(lambda i: chain(i, barrier), range(8))
    for i, out in enumerate(outputs):
        leaves = {n.name for n in ancestors(out) if not n.parents}
        assert leaves == {f"input{i}", "int"}  # its own input and the constants it added, nothing else
        assert out.data == 2 * i + 1


def test_no_trace_in_one_rollout_does_not_switch_tracing_off_in_another(local_executor):
    barrier = threading.Barrier(8)

    def rollout(i):
        if i % 2:
            return chain(i, barrier)
        with to.no_trace():
            return chain(i, barrier)

    outputs = local_executor.map(rollout, range(8))
    assert [bool(out.parents) for out in outputs] == [i % 2 == 1 for i in range(8)]
    assert to.is_tracing()


def test_rollouts_inherit_the_callers_tracing_switch(local_executor):
    with to.no_trace():
        inside = local_executor.map(lambda i: to.is_tracing(), range(4))
    assert inside == [False] * 4
    assert local_executor.map(lambda i: to.is_tracing(), range(4)) == [True] * 4


def test_async_rollouts_keep_their_own_tracing_switch():
    async def rollout(i):
        if i % 2:
            await asyncio.sleep(0.05)
            return to.node(i) + 1
        with to.no_trace():
            await asyncio.sleep(0.05)  # the odd rollouts run while this one is inside no_trace
            return to.node(i) + 1

    with AsyncExecutor(8) as executor:
        outputs = executor.map(rollout, range(8))
    assert [bool(out.parents) for out in outputs] == [i % 2 == 1 for i in range(8)]


@to.bundle()
def parse_score(reply):
    """The score at the end of the reply."""
    return int(reply.split()[-1])


def test_a_failed_traced_operation_keeps_its_exception_node_for_feedback(local_executor):
    param = to.Parameter("score: 7", description="reply template")
    results = local_executor.map(lambda suffix: parse_score(param + suffix), ["", " (none)"])
    assert results[0].data == 7
    error = results[1]
    assert isinstance(error, RolloutError) and error.error_type == "TraceExecutionError"
    assert isinstance(error.exception, to.TraceExecutionError) and error.node is error.exception.node
    error.node.backward(str(error))
    assert [record.feedback.text for record in param.feedback] == [str(error)]


def test_async_map_inside_a_running_loop_points_to_amap():
    async def main():
        with AsyncExecutor(4) as executor:
            with pytest.raises(RuntimeError, match="await executor.amap"):
                executor.map(nap, [1])
            return await executor.amap(async_nap, range(4)), await executor.amap(abs, [-1, -2])

    assert asyncio.run(main()) == ([0, 1, 2, 3], [1, 2])


def test_async_executor_keeps_one_loop_across_maps():
    async def current_loop(i):
        return id(asyncio.get_running_loop())

    with AsyncExecutor(4) as executor:
        first = set(executor.map(current_loop, range(4)))
        second = set(executor.map(current_loop, range(4)))
    assert len(first) == 1 and first == second


def test_closing_the_async_executor_ends_tasks_rollouts_left_behind():
    left_behind = []

    async def rollout(i):
        left_behind.append(asyncio.ensure_future(asyncio.sleep(60)))  # as a client's background logger does
        return i

    executor = AsyncExecutor(2)
    assert executor.map(rollout, range(2)) == [0, 1]
    executor.close()
    assert all(task.cancelled() for task in left_behind)


def test_a_rollout_that_maps_on_its_own_busy_executor_does_not_deadlock(local_executor):
    def outer(i):
        return sum(local_executor.map(lambda j: i * j, range(3)))

    # 32 outer rollouts keep all 16 workers busy; their inner maps run inline instead of waiting.
    assert local_executor.map(outer, range(32)) == [3 * i for i in range(32)]
