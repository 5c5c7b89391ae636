"""no_trace nests, and tracing in threads and asyncio tasks never mixes graphs."""
import asyncio
import threading

import trace_opt as to
from trace_opt.graph import ancestors


def test_no_trace_builds_no_graph():
    a = to.node(1)
    with to.no_trace():
        out = a + 1
        assert not to.is_tracing()
    assert out.data == 2 and out.parents == ()
    assert to.is_tracing()


def test_nested_no_trace_stays_off_until_the_outer_block_ends():
    with to.no_trace():
        with to.no_trace():
            assert not to.is_tracing()
        assert not to.is_tracing()
        assert (to.node(1) + 1).parents == ()
    assert to.is_tracing()
    assert len((to.node(1) + 1).parents) == 2


def test_no_trace_in_one_thread_does_not_switch_off_another():
    seen = {}
    inside = threading.Event()
    release = threading.Event()

    def quiet():
        with to.no_trace():
            inside.set()
            release.wait(5)

    worker = threading.Thread(target=quiet)
    worker.start()
    inside.wait(5)
    seen["main"] = to.is_tracing()
    release.set()
    worker.join()
    assert seen["main"] is True


def _chain(tag, steps):
    p = to.Parameter(tag, name=f"p{tag}")
    x = p
    for i in range(steps):
        x = x + 1
    return p, x


def test_eight_threads_tracing_at_once_never_mix_graphs():
    results = {}
    barrier = threading.Barrier(8)

    def work(tag):
        barrier.wait()
        results[tag] = _chain(tag * 1000, 500)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for tag, (param, out) in results.items():
        nodes = ancestors(out)
        params = [n for n in nodes if isinstance(n, to.Parameter)]
        assert params == [param]
        assert out.data == tag * 1000 + 500
        assert len(nodes) == 1 + 2 * 500  # the parameter, then an add and its constant per step


def test_fifty_asyncio_tasks_tracing_at_once_never_mix_graphs():
    async def work(tag):
        p = to.Parameter(tag, name=f"p{tag}")
        x = p
        for _ in range(20):
            x = x + 1
            await asyncio.sleep(0)  # let the other tasks interleave
        if tag % 2:
            with to.no_trace():  # a task switching tracing off affects only itself
                await asyncio.sleep(0)
                assert (x + 1).parents == ()
        return p, x

    async def main():
        return await asyncio.gather(*(work(t) for t in range(50)))

    for tag, (param, out) in enumerate(asyncio.run(main())):
        params = [n for n in ancestors(out) if isinstance(n, to.Parameter)]
        assert params == [param] and out.data == tag + 20
        assert len(ancestors(out)) == 41
