"""What every executor promises (threads, asyncio and Ray alike): results in input order, a
rollout that raises is a value in its place, the same results whatever runs them."""
import time

import pytest

from trace_opt.exec import Executor, RolloutError, ThreadExecutor, as_executor


def slower_first(i):
    """Early items finish last, so results in order are not results in completion order."""
    time.sleep(0.02 * (5 - i % 5))
    return i * i


def fails_on_multiples_of_three(i):
    if i % 3 == 0:
        raise ValueError(f"item {i} is a multiple of three")
    return {"item": i, "score": i / 10}


def test_results_come_back_in_input_order(executor):
    assert executor.map(slower_first, range(10)) == [i * i for i in range(10)]


def test_a_rollout_that_raises_becomes_a_rollout_error_in_its_place(executor):
    results = executor.map(fails_on_multiples_of_three, range(7))
    failed = [r for r in results if isinstance(r, RolloutError)]
    assert [r.index for r in failed] == [0, 3, 6]
    assert failed[1].error_type == "ValueError"
    assert failed[1].message == "item 3 is a multiple of three"
    assert str(failed[1]) == "(ValueError) item 3 is a multiple of three"  # ExceptionNode.data's form
    assert "fails_on_multiples_of_three" in failed[1].traceback
    assert results[1] == {"item": 1, "score": 0.1} and results[5] == {"item": 5, "score": 0.5}


def test_every_executor_gives_what_one_worker_gives(executor):
    items = list(range(12))
    expected = ThreadExecutor(1).map(fails_on_multiples_of_three, items)
    assert executor.map(fails_on_multiples_of_three, items) == expected


def test_empty_items_and_a_generator(executor):
    assert executor.map(slower_first, []) == []
    assert executor.map(slower_first, (i for i in range(3))) == [0, 1, 4]


def test_a_non_callable_is_a_clear_error(executor):
    with pytest.raises(TypeError, match="needs a callable as fn, got str"):
        executor.map("not a function", [1])


def test_a_closed_executor_says_so():
    executor = ThreadExecutor(2)
    assert executor.map(abs, [-1]) == [1]
    executor.close()
    executor.close()  # idempotent
    with pytest.raises(RuntimeError, match="ThreadExecutor is closed"):
        executor.map(abs, [-1])


@pytest.mark.parametrize("bad", [0, -2, 1.5, True])
def test_worker_counts_must_be_positive_ints(bad):
    from trace_opt.exec import AsyncExecutor

    with pytest.raises(ValueError, match="max_workers"):
        ThreadExecutor(bad)
    with pytest.raises(ValueError, match="concurrency"):
        AsyncExecutor(bad)


def test_as_executor_resolves_what_a_trainer_is_given():
    assert isinstance(as_executor(None), ThreadExecutor)
    assert type(as_executor("async")).__name__ == "AsyncExecutor"
    mine = ThreadExecutor(3)
    assert as_executor(mine) is mine and isinstance(mine, Executor)
    with pytest.raises(TypeError, match="one of \\('thread', 'async', 'ray'\\)"):
        as_executor("processes")
