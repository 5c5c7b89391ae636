"""Budget limits: checked before each call, shared between clients, cache hits free."""
import asyncio
import threading

import pytest

from trace_opt.llm import Budget, BudgetExceeded, LLMError

from .scripted_provider import Hang, Reply, Status


def test_limits_are_validated():
    with pytest.raises(ValueError, match="max_usd"):
        Budget(max_usd=-1)
    with pytest.raises(ValueError, match="max_calls"):
        Budget(max_calls="3")
    assert issubclass(BudgetExceeded, LLMError)


def test_max_calls():
    budget = Budget(max_calls=2)
    budget.reserve()
    budget.reserve()
    with pytest.raises(BudgetExceeded, match=r"max_calls=2; 2 spent \+ 1 estimated") as caught:
        budget.reserve()
    assert caught.value.limit == "max_calls" and budget.calls == 2
    budget.release()
    budget.reserve()


def test_max_tokens_reached_or_estimate_would_pass():
    budget = Budget(max_tokens=100)
    budget.reserve(est_prompt_tokens=60)
    budget.record(tokens=80, cost_usd=0.0, est_prompt_tokens=60)
    with pytest.raises(BudgetExceeded, match=r"max_tokens=100; 80 spent \+ 30 estimated"):
        budget.reserve(est_prompt_tokens=30)
    budget.reserve(est_prompt_tokens=20)
    budget.record(tokens=20, cost_usd=0.0, est_prompt_tokens=20)
    with pytest.raises(BudgetExceeded, match="100 already spent"):
        budget.reserve(est_prompt_tokens=0)


def test_max_usd_reached_or_estimate_would_pass():
    budget = Budget(max_usd=0.01)
    budget.reserve(est_cost_usd=0.004)
    budget.record(tokens=10, cost_usd=0.008, est_cost_usd=0.004)
    with pytest.raises(BudgetExceeded, match=r"max_usd=\$0.010000; \$0.008000 spent \+ \$0.003000 estimated"):
        budget.reserve(est_cost_usd=0.003)
    budget.record(tokens=10, cost_usd=0.002)
    with pytest.raises(BudgetExceeded, match="already spent"):
        budget.reserve(est_cost_usd=0.0)


def test_calls_in_flight_count_against_the_limit():
    budget = Budget(max_usd=0.01)
    budget.reserve(est_cost_usd=0.006)             # sent, no reply yet
    with pytest.raises(BudgetExceeded, match=r"\$0.000000 spent \+ \$0.011000 estimated"):
        budget.reserve(est_cost_usd=0.005)         # a parallel rollout's call: together they would pass it
    budget.release(est_cost_usd=0.006)             # the first failed: its estimate is given back
    budget.reserve(est_cost_usd=0.005)
    budget.record(tokens=5, cost_usd=0.004, est_cost_usd=0.005)
    budget.reserve(est_cost_usd=0.006)             # 0.004 spent + 0.006 = the limit, not past it


def test_zero_dollars_still_allows_free_calls():
    budget = Budget(max_usd=0)
    budget.reserve(est_cost_usd=0.0)
    with pytest.raises(BudgetExceeded):
        budget.reserve(est_cost_usd=0.0001)


def test_concurrent_reservations_never_overshoot():
    budget = Budget(max_calls=50)
    refused = []

    def worker():
        for _ in range(20):
            try:
                budget.reserve()
            except BudgetExceeded:
                refused.append(1)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert budget.calls == 50 and len(refused) == 160 - 50


def test_call_refused_before_anything_is_sent(make_llm, provider):
    provider.script(Reply("1"), Reply("2"), Reply("3"))
    llm = make_llm(budget=Budget(max_calls=2))
    assert [llm("a"), llm("b")] == ["1", "2"]
    with pytest.raises(BudgetExceeded, match="max_calls=2"):
        llm("c")
    assert len(provider.requests) == 2


def test_shared_between_clients(make_llm, provider):
    provider.script(Reply("1"), Reply("2"), Reply("3"))
    shared = Budget(max_calls=2, max_tokens=10_000)
    first, second = make_llm(budget=shared), make_llm(budget=shared)
    first("a")
    second("b")
    with pytest.raises(BudgetExceeded):
        first("c")
    assert shared.calls == 2 and shared.tokens == 36  # 18 tokens per scripted reply
    assert first.usage.total_tokens == 18 and second.usage.total_tokens == 18


def test_cache_hits_are_free(make_llm, provider):
    provider.script(Reply("cached"))
    llm = make_llm(cache=True, budget=Budget(max_calls=1))
    assert [llm("same"), llm("same"), llm("same")] == ["cached"] * 3
    assert llm.usage.cache_hits == 2 and llm.budget.calls == 1 and llm.budget.tokens == 18


def test_failed_call_gives_its_reservation_back(make_llm, provider):
    provider.script(Status(400, "bad"), Reply("ok"))
    llm = make_llm(budget=Budget(max_calls=1))
    with pytest.raises(LLMError):
        llm("a")
    assert llm.budget.calls == 0
    assert llm("b") == "ok"


def test_token_limit_stops_a_run(make_llm, provider):
    provider.script(*[Reply("x", prompt_tokens=40, completion_tokens=10)] * 3)
    llm = make_llm(budget=Budget(max_tokens=100))
    llm("a")
    llm("b")
    with pytest.raises(BudgetExceeded, match="max_tokens=100; 100 already spent"):
        llm("c")
    assert len(provider.requests) == 2


def test_dollar_limit_with_a_priced_model(make_llm, provider):
    # gpt-4o-mini's price comes from litellm's local price map; the server is still the scripted one.
    provider.script(*[Reply("x", prompt_tokens=1000, completion_tokens=1000)] * 2)
    llm = make_llm(model="openai/gpt-4o-mini", budget=Budget(max_usd=0.001))
    llm("a")
    assert llm.usage.cost_usd == pytest.approx(0.00075)
    assert llm.budget.cost_usd == pytest.approx(0.00075)
    with pytest.raises(BudgetExceeded, match="max_usd"):
        llm("b", max_tokens=1000)  # 1000 completion tokens could cost $0.0006 more
    llm("c")                       # a short prompt alone fits
    with pytest.raises(BudgetExceeded, match="already spent"):
        llm("d")
    assert len(provider.requests) == 2


def test_unknown_models_cost_nothing(make_llm, provider):
    provider.script(Reply("x", prompt_tokens=5000, completion_tokens=5000))
    llm = make_llm(budget=Budget(max_usd=0.0))
    llm("a")
    assert llm.usage.cost_usd == 0.0 and llm.usage.total_tokens == 10_000


def test_cancelled_call_gives_its_reservation_back(make_llm, provider):
    provider.script(Hang(2.0))
    llm = make_llm(budget=Budget(max_calls=1))

    async def impatient():
        await asyncio.wait_for(llm.acall("slow"), timeout=0.2)

    with pytest.raises(asyncio.TimeoutError):
        asyncio.run(impatient())
    assert llm.budget.calls == 0
