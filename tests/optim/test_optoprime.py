"""OptoPrime with a scripted fake LLM: prompt content, validation, candidates, reverts, budgets."""
import pytest

import trace_opt as to
from trace_opt.llm import BudgetExceeded, ProviderError, ReplyError
from trace_opt.optim.llm.tokens import estimate_tokens

from .scripted_llm import ScriptedLLM


class Solver(to.Module):
    def __init__(self):
        super().__init__()
        self.instructions = to.Parameter("Answer the question.", description="system prompt")
        self.temperature = to.Parameter(0.7, bounds=(0.0, 1.5))
        self.style = to.Parameter("short", choices=["short", "long"])

    @to.bundle(trainable=True)
    def extract(self, reply: str) -> str:
        """Pull the final answer out of the model's reply."""
        return reply.strip().splitlines()[-1]

    def forward(self, question):
        reply = self.instructions + " Style: " + self.style + "\n" + question + "\nThe answer is 12"
        return self.extract(reply)


def _step_setup(replies, **options):
    solver = Solver()
    llm = ScriptedLLM(replies)
    opt = to.optim.OptoPrime(solver.parameters(), llm=llm, **options)
    out = solver(to.node("What is 3 * 4?", name="question"))
    opt.zero_feedback()
    out.backward("Wrong: reply with the number only.")
    return solver, llm, opt


NEW_CODE = "def extract(self, reply: str) -> str:\n    return reply.split()[-1]\n"


def test_a_step_changes_a_prompt_and_code_and_the_prompt_holds_the_trace():
    reply = {"reasoning": "Keep the number only.",
             "suggestion": {"instructions": "Reply with the number only.", "extract": NEW_CODE}}
    solver, llm, opt = _step_setup([reply])
    report = opt.step()
    assert report.skipped is None and report.updated.keys() == {"instructions", "extract"}
    assert solver.instructions.data == "Reply with the number only."
    assert solver.extract.parameter.data == NEW_CODE
    assert solver(to.node("q")).data == "12"
    prompt = llm.calls[0]["messages"][1]["content"]
    for part in ("#Code", "#Documentation", "#Variables", "#Others", "#Outputs", "#Feedback",
                 "Wrong: reply with the number only.", "Pull the final answer", "(text) instructions",
                 "What is 3 * 4?", "def extract(self, reply: str) -> str:"):
        assert part in prompt
    assert "temperature" not in prompt  # it did not influence the output, so it is not a variable here


def test_bad_suggestions_are_rejected_one_by_one_and_leave_parameters_unchanged():
    reply = {"reasoning": "", "suggestion": {
        "instructions": "   ",                                 # empty
        "extract": "def extract(self):\n    return 1\n",       # signature changed
        "nonexistent": "x",                                   # unknown variable (no grammar on this server)
    }}
    solver, _, opt = _step_setup([reply])
    before = solver.state_dict()
    report = opt.step()
    assert report.updated == {} and solver.state_dict() == before
    reasons = {p.name: p.reason for p in report.proposals}
    assert reasons["instructions"] == "rejected: an empty value"
    assert "keep the signature" in reasons["extract"]
    assert reasons["nonexistent"] == "not a variable of this step"


def test_numbers_are_cast_and_kept_in_bounds():
    solver = Solver()
    out = solver.temperature * 2
    llm = ScriptedLLM([{"suggestion": {"temperature": 9.0}}, {"suggestion": {"temperature": "0.25"}}])
    opt = to.optim.OptoPrime([solver.temperature], llm=llm)
    out.backward("too hot")
    report = opt.step()
    assert solver.temperature.data == 0.7 and "outside bounds" in report.proposals[0].reason
    report = opt.step()
    assert solver.temperature.data == 0.25 and report.updated == {"temperature": 0.25}


def test_the_reply_schema_constrains_names_kinds_and_choices():
    solver, llm, opt = _step_setup([{"suggestion": {"style": "long"}}])
    opt.step()
    schema = llm.calls[0]["schema"].model_json_schema()
    suggestion = schema["$defs"]["Suggestion"]["properties"]
    assert set(suggestion) == {"instructions", "style", "extract"}
    assert suggestion["style"]["enum"] == ["short", "long"]
    assert schema["$defs"]["Suggestion"]["additionalProperties"] is False
    assert set(schema["$defs"]["Suggestion"]["required"]) == {"instructions", "style", "extract"}
    with pytest.raises(Exception):
        llm.calls[0]["schema"].model_validate({"suggestion": {"style": "medium"}})


@pytest.mark.parametrize("error", [
    ReplyError("openai/smollm2", "not JSON", "Sure! Here you go", 3),
    ProviderError("openai/smollm2", 500, "server error", retries=4),
])
def test_an_unusable_reply_or_provider_failure_skips_the_step(error, caplog):
    solver, _, opt = _step_setup([error])
    before = solver.state_dict()
    report = opt.step()
    assert report.skipped.startswith("no usable proposal") and solver.state_dict() == before
    assert "step skipped" in caplog.text


def test_budget_exceeded_stops_the_step():
    solver, _, opt = _step_setup([BudgetExceeded("max_calls", 1, 1)])
    with pytest.raises(BudgetExceeded):
        opt.step()


def test_no_feedback_means_no_call():
    llm = ScriptedLLM([])
    opt = to.optim.OptoPrime(Solver().parameters(), llm=llm)
    assert opt.step().skipped.startswith("no feedback") and llm.calls == []


def test_candidates_are_evaluated_and_only_a_better_one_is_kept():
    replies = [{"suggestion": {"instructions": "A"}}, {"suggestion": {"instructions": "BB"}},
               {"suggestion": {"instructions": "C"}}]
    solver, llm, opt = _step_setup(replies, num_candidates=3)
    report = opt.step(evaluate=lambda: len(solver.instructions.data) if len(solver.instructions.data) < 5 else 0)
    assert solver.instructions.data == "BB" and report.chosen == 1
    assert [c.score for c in report.candidates] == [1, 2, 1] and report.baseline_score == 0
    limit = {"max_tokens": 716}  # 35% of the scripted LLM's 2048-token window is left for the reply
    assert [c["options"] for c in llm.calls] == [limit, {**limit, "temperature": 0.8, "seed": 1},
                                                 {**limit, "temperature": 0.8, "seed": 2}]

    solver, _, opt = _step_setup([{"suggestion": {"instructions": "worse"}}], num_candidates=1)
    report = opt.step(evaluate=lambda: 1.0 if solver.instructions.data == "Answer the question." else 0.0)
    assert report.chosen is None and solver.instructions.data == "Answer the question."
    assert report.proposals[0].reason == "did not beat the current values on evaluation"


def test_a_good_change_hidden_behind_a_bad_one_is_tried_alone_and_kept():
    solver, _, opt = _step_setup([{"suggestion": {"instructions": "junk", "style": "long"}}])

    def evaluate():
        return (solver.style.data == "long") - (solver.instructions.data == "junk") * 2

    report = opt.step(evaluate=evaluate)
    assert solver.style.data == "long" and solver.instructions.data == "Answer the question."
    assert [c.score for c in report.candidates] == [-1, -2, 1] and report.chosen == 2
    assert report.candidates[2].origin == 0 and report.updated == {"style": "long"}
    reasons = {p.name: (p.accepted, p.reason) for p in report.candidates[0].proposals}
    assert reasons == {"instructions": (False, "did not beat the current values on evaluation"), "style": (True, "")}


def test_a_candidate_that_crashes_evaluation_loses_and_training_goes_on():
    solver, _, opt = _step_setup([{"suggestion": {"instructions": "boom"}}, {"suggestion": {"instructions": "ok"}}],
                                 num_candidates=2)

    def evaluate():
        if solver.instructions.data == "boom":
            raise RuntimeError("candidate broke the workflow")
        return 1.0 if solver.instructions.data == "ok" else 0.0

    report = opt.step(evaluate=evaluate)
    assert solver.instructions.data == "ok" and report.candidates[0].score == float("-inf")


def test_code_that_raises_on_this_steps_inputs_is_rejected_before_it_is_installed():
    crashing = "def extract(self, reply: str) -> str:\n    return reply.splitlines()[99]\n"
    solver, _, opt = _step_setup([{"suggestion": {"extract": crashing}}])
    original = solver.extract.parameter.data
    report = opt.step()
    assert solver.extract.parameter.data == original and report.updated == {}
    assert report.proposals[0].reason == "rejected: raised IndexError: list index out of range (line 2) on the inputs of this step"


def test_a_body_only_answer_is_put_under_the_functions_header():
    solver, _, opt = _step_setup([{"suggestion": {"extract": "reply.split()[-1]"}}])
    opt.step()
    assert solver.extract.parameter.data == "def extract(self, reply: str) -> str:\n    return reply.split()[-1]\n"


def test_code_that_raises_after_it_was_installed_is_reverted_and_reported():
    fragile = ("def extract(self, reply: str) -> str:\n"
               "    return reply.splitlines()[99] if 'boom' in reply else reply.split()[-1]\n")
    solver, llm, opt = _step_setup([{"suggestion": {"extract": fragile}}, {"suggestion": {}}])
    original = solver.extract.parameter.data
    opt.step()
    assert solver.extract.parameter.data == fragile
    opt.zero_feedback()
    with pytest.raises(to.TraceExecutionError) as info:
        solver(to.node("boom"))
    info.value.node.backward(str(info.value))
    report = opt.step()
    assert solver.extract.parameter.data == original
    assert "raised (IndexError) list index out of range (line 2); it was reverted" in report.notes[0]
    assert "it was reverted" in llm.calls[1]["messages"][1]["content"]


def test_the_prompt_stays_within_budget_on_a_huge_graph_with_variables_and_feedback_kept():
    prompt = to.Parameter("Summarize.", name="prompt")
    out = prompt
    for i in range(5000):
        out = out + f" step {i}"
    out.backward("Far too long. " * 200)
    llm = ScriptedLLM([{"suggestion": {"prompt": "Be short."}}])
    opt = to.optim.OptoPrime([prompt], llm=llm, max_prompt_tokens=1000)
    opt.step()
    messages = llm.calls[0]["messages"]
    total = sum(estimate_tokens(m["content"]) for m in messages)
    assert total <= 1000
    content = messages[1]["content"]
    assert "prompt = 'Summarize.'" in content and "Far too long." in content
    assert "operations left out here (add ×" in content


def test_a_constrained_server_is_offered_a_grid_of_numbers_within_bounds():
    from trace_opt.optim.llm.suggestions import suggestion_model

    temperature = to.Parameter(0.7, bounds=(0.0, 1.5), name="temperature")
    steps = to.Parameter(3, bounds=(1, 5), name="steps")
    grid = suggestion_model({temperature: "temperature", steps: "steps"}, constrained=True).model_json_schema()
    fields = grid["$defs"]["Suggestion"]["properties"]
    assert fields["temperature"]["enum"][:3] == [0.0, 0.075, 0.15] and fields["temperature"]["enum"][-1] == 1.5
    assert fields["steps"]["enum"] == [1, 2, 3, 4, 5]
    open_schema = suggestion_model({temperature: "temperature"}).model_json_schema()
    assert open_schema["$defs"]["Suggestion"]["properties"]["temperature"]["maximum"] == 1.5


def test_the_prompt_budget_follows_the_llm_context_window():
    opt = to.optim.OptoPrime([to.Parameter("x")], llm=ScriptedLLM([], context_window=2048))
    assert opt.max_prompt_tokens == 1228
    with pytest.raises(ValueError, match="max_prompt_tokens"):
        to.optim.OptoPrime([to.Parameter("x")], llm=ScriptedLLM([]), max_prompt_tokens=10)


def test_bad_optimizer_input_is_named():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="numeric optimizer"):
        to.optim.OptoPrime([to.Parameter(torch.zeros(2))], llm=ScriptedLLM([]))
    p = to.Parameter("x")
    with pytest.raises(ValueError, match="more than one parameter group"):
        to.optim.OptoPrime([{"params": [p]}, {"params": [p]}], llm=ScriptedLLM([]))
    with pytest.raises(TypeError, match="trace_opt Parameters"):
        to.optim.OptoPrime(["not a parameter"], llm=ScriptedLLM([]))
    with pytest.raises(ValueError, match="empty parameter list"):
        to.optim.OptoPrime([], llm=ScriptedLLM([]))


def test_state_dict_round_trips_memory():
    solver, _, opt = _step_setup([{"suggestion": {"instructions": "New."}}])
    opt.step()
    state = opt.state_dict()
    assert len(state["memory"]) == 1 and "Wrong: reply with the number only." in state["memory"][0]
    fresh = to.optim.OptoPrime(solver.parameters(), llm=ScriptedLLM([]))
    fresh.load_state_dict(state)
    assert fresh.memory == opt.memory
