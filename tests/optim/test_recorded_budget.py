"""The budget stops a run before the call that would pass it; usage adds up to the recording."""
import json

import pytest

import trace_opt as to
from trace_opt.llm import LLM, Budget, BudgetExceeded

from ..conftest import LOCAL_API_BASE
from .test_recorded_cycles import FEEDBACK, MathSolver


@pytest.mark.vcr
def test_budget_exceeded_stops_the_step_before_the_call_and_usage_matches_the_recording(vcr):
    budget = Budget(max_calls=3)
    llm = LLM(model="openai/smollm2", api_base=LOCAL_API_BASE, api_key="sk-no-key-needed", cache=False, budget=budget)
    solver = MathSolver(llm)
    before = solver.state_dict()
    opt = to.optim.OptoPrime(solver.parameters(), llm=llm, num_candidates=4, max_prompt_tokens=1000)
    out = solver(to.node("What is 3 * 4?", name="question"))  # call 1
    out.backward(to.Feedback(text=FEEDBACK, score=0.0))
    with pytest.raises(BudgetExceeded, match="max_calls=3"):
        opt.step()  # candidates 1 and 2 are calls 2 and 3; candidate 3 would be the 4th
    assert solver.state_dict() == before  # the interrupted step changed nothing
    assert llm.usage.calls == 3 and budget.calls == 3

    usages = [json.loads(response["body"]["string"])["usage"] for response in vcr.responses]  # the cassette's
    assert len(usages) == 3
    assert llm.usage.prompt_tokens == sum(u["prompt_tokens"] for u in usages)
    assert llm.usage.completion_tokens == sum(u["completion_tokens"] for u in usages)
