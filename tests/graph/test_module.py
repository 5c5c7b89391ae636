"""Module: finding parameters, state_dict, save and load."""
import json

import pytest

import trace_opt as to


class Tool(to.Module):
    def __init__(self):
        super().__init__()
        self.description = to.Parameter("Adds two numbers.")


class Agent(to.Module):
    def __init__(self):
        super().__init__()
        self.instructions = to.Parameter("Answer the question.", description="system prompt")
        self.temperature = to.Parameter(0.7, bounds=(0.0, 1.5))
        self.max_steps = to.Parameter(4, bounds=(1, 10))
        self.style = to.Parameter("short", choices=["short", "long"])
        self.examples = to.Parameter([{"q": "1+1", "a": "2"}])
        self.tools = [Tool(), Tool()]
        self.extras = {"greeting": to.Parameter("Hi")}
        self.alias = self.instructions  # the same parameter twice is listed once

    @to.bundle(trainable=True)
    def extract(self, reply):
        """Pull out the answer."""
        return reply.strip()


def test_parameters_are_found_everywhere_and_named():
    agent = Agent()
    names = [name for name, _ in agent.named_parameters()]
    assert names == ["instructions", "temperature", "max_steps", "style", "examples",
                     "tools.0.description", "tools.1.description", "extras.greeting", "extract"]
    assert isinstance(agent.parameters(), list) and len(agent.parameters()) == 9
    assert agent.instructions.name == "instructions"
    assert agent.tools[1].description.name == "description"  # named by the attribute that holds it


def test_state_dict_round_trip_and_validation():
    agent = Agent()
    state = agent.state_dict()
    agent.instructions.data = "changed"
    agent.load_state_dict(state)
    assert agent.instructions.data == "Answer the question."
    bad = dict(state, temperature=9.0)
    with pytest.raises(ValueError, match="temperature"):
        agent.load_state_dict(bad)
    with pytest.raises(ValueError, match="missing \\['style'\\]"):
        agent.load_state_dict({k: v for k, v in state.items() if k != "style"})


def _change_everything(agent, torch):
    agent.instructions.data = "Reply with the number only."
    agent.temperature.data = 0.1
    agent.max_steps.data = 7
    agent.style.data = "long"
    agent.examples.data = [{"q": "2+2", "a": "4"}]
    agent.tools[0].description.data = "Adds."
    agent.extract.parameter.data = "def extract(self, reply):\n    return reply.strip().upper()\n"
    if torch is not None:
        agent.weights.data = torch.arange(6, dtype=torch.float32).reshape(2, 3)


def test_save_and_load_round_trip_every_kind_in_place(tmp_path):
    torch = pytest.importorskip("torch")
    agent = Agent()
    agent.weights = to.Parameter(torch.zeros(2, 3, requires_grad=True))
    _change_everything(agent, torch)
    path = agent.save(tmp_path / "agent.json")
    saved = json.loads(path.read_text())
    assert saved["parameters"]["instructions"] == {"kind": "text", "value": "Reply with the number only."}
    assert saved["parameters"]["weights"]["value"]["shape"] == [2, 3]

    fresh = Agent()
    fresh.weights = to.Parameter(torch.zeros(2, 3, requires_grad=True))
    objects = fresh.parameters()
    tensor = fresh.weights.data
    fresh.load(path)
    assert fresh.parameters() == objects and fresh.weights.data is tensor  # updated in place
    assert fresh.state_dict().keys() == agent.state_dict().keys()
    for name, value in agent.state_dict().items():
        loaded = fresh.state_dict()[name]
        assert torch.equal(loaded, value) if name == "weights" else loaded == value
    assert fresh.extract("  ok ").data == "OK"  # the loaded code is what runs
    assert fresh.max_steps.data == 7 and isinstance(fresh.max_steps.data, int)


def test_load_with_mismatched_names_changes_nothing(tmp_path):
    agent = Agent()
    path = agent.save(tmp_path / "agent.json")
    document = json.loads(path.read_text())
    document["parameters"]["renamed"] = document["parameters"].pop("style")
    document["parameters"]["instructions"]["value"] = "should not be loaded"
    path.write_text(json.dumps(document))
    with pytest.raises(ValueError, match=r"missing \['style'\], unknown \['renamed'\]"):
        agent.load(path)
    assert agent.instructions.data == "Answer the question."


def test_load_rejects_invalid_values_and_other_files_without_change(tmp_path):
    agent = Agent()
    path = agent.save(tmp_path / "agent.json")
    document = json.loads(path.read_text())
    document["parameters"]["instructions"]["value"] = "new"
    document["parameters"]["extract"]["value"] = "def extract(self):\n    return 1\n"
    path.write_text(json.dumps(document))
    with pytest.raises(ValueError, match="extract: code must keep the signature"):
        agent.load(path)
    assert agent.instructions.data == "Answer the question."
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}')
    with pytest.raises(ValueError, match="not a trace_opt module file"):
        agent.load(other)
    document["parameters"]["extract"]["kind"] = "text"
    path.write_text(json.dumps(document))
    with pytest.raises(ValueError, match="'text' in the file but 'code' here"):
        agent.load(path)


def test_load_state_dict_needs_a_dict():
    with pytest.raises(TypeError, match="dict"):
        Agent().load_state_dict([("a", 1)])


def test_forward_must_be_defined():
    with pytest.raises(NotImplementedError, match="Tool must define forward"):
        Tool()("x")
