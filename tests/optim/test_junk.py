"""Junk text proposals are rejected with a reason; the replies quoted are ones SmolLM2-135M gave
(issue 12) and that were once accepted at a validation tie. The optimizer shows what it edits whole."""
import pytest

import trace_opt as to
from trace_opt.optim.llm.junk import junk_reason
from trace_opt.optim.llm.optoprime import OptoPrime
from trace_opt.optim.llm.tokens import elide

from .scripted_llm import ScriptedLLM

CITY_PROMPT = "Name the city the sentence mentions. Reply with the city name only."
SENTENCE = "Dana was visiting his cousin in Manila last week."
OBSERVED_JUNK = [
    "} } ``` This is a Python code that uses the extract function to pull the answer out of the reply.",
    "What should change: why? What's the best way to do it?",
    "Name the city the sentence …[48 chars cut]… only.",
    SENTENCE,
]


class CityAgent(to.Module):
    def __init__(self):
        super().__init__()
        self.instructions = to.Parameter(CITY_PROMPT, description="system prompt: what the model should do")

    def forward(self, sentence):
        return self.instructions + "\n" + sentence


def _step(reply, **options):
    agent = CityAgent()
    llm = ScriptedLLM([reply])
    optimizer = OptoPrime(agent.parameters(), llm=llm, **options)
    out = agent(to.node(SENTENCE, name="sentence"))
    out.backward(to.Feedback("Wrong: expected 'Manila'. Reply with the city name only.", score=0.0))
    return agent, llm, optimizer.step()


@pytest.mark.parametrize("value", OBSERVED_JUNK)
def test_observed_junk_is_rejected_with_a_reason_and_the_prompt_stays(value):
    agent, _, report = _step({"reasoning": "", "suggestion": {"instructions": value}})
    assert agent.instructions.data == CITY_PROMPT
    assert not report.updated
    [proposal] = report.proposals
    assert not proposal.accepted and proposal.reason.startswith("rejected: ")


def test_each_kind_of_junk_says_what_it_is():
    scaffolding = OptoPrime.scaffolding + " " + "Reply with a JSON object ... what should change and why"
    reasons = [junk_reason(v, current=CITY_PROMPT, scaffolding=scaffolding, copies_of=[SENTENCE])
               for v in OBSERVED_JUNK]
    assert "code fence" in reasons[0]
    assert "prompt wording" in reasons[1] and "should" in reasons[1]
    assert "elision marker" in reasons[2]
    assert "copies an input" in reasons[3]
    assert "JSON or markup" in junk_reason('{"instructions": "Name the city"}', current=CITY_PROMPT,
                                           scaffolding="")


@pytest.mark.parametrize("value", [
    "Read the sentence and reply with the name of the city it mentions, nothing else.",
    "Reply with one word: the city name.",
    "Which city does the sentence mention? Answer with the city only.",
])
def test_real_rewrites_are_tried(value):
    agent, _, report = _step({"reasoning": "shorter", "suggestion": {"instructions": value}})
    assert agent.instructions.data == value and report.updated == {"instructions": value}


def test_wording_or_markup_the_value_already_had_is_not_held_against_it():
    current = "Answer in the form {city}. What should the answer be?"
    assert junk_reason("Answer only in the form {city}. What should the answer be?", current=current,
                       scaffolding="what should change and why answer form") is None


def test_a_long_trainable_value_is_shown_whole_and_in_the_memory_too():
    long_prompt = "Name the city. " + "Think of every place named in the sentence, then pick one. " * 8
    agent = CityAgent()
    agent.instructions.data = long_prompt
    reply = {"reasoning": "", "suggestion": {"instructions": long_prompt + " Be brief."}}
    llm = ScriptedLLM([reply, reply])
    optimizer = OptoPrime(agent.parameters(), llm=llm)
    for _ in range(2):
        optimizer.zero_feedback()
        agent(to.node(SENTENCE)).backward("Wrong: expected 'Manila'.")
        optimizer.step()
    second = llm.calls[1]["messages"][1]["content"]
    current = long_prompt + " Be brief."
    variables = second.split("#Variables\n", 1)[1].split("\n#", 1)[0]
    memory = second.split("#Earlier steps", 1)[1]
    assert len(long_prompt) > 400 and current in variables and "chars cut" not in variables
    assert long_prompt in memory and "chars cut" not in memory  # the value tried at step 1, whole
