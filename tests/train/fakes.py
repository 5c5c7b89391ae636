"""Deterministic stand-ins for trainer tests: a scripted fake optimizer (not an LLM, not a
recording) and a tiny agent whose quality depends on its prompt parameter."""
import trace_opt as to
from trace_opt.optim.base import Optimizer


class ScriptedOptimizer(Optimizer):
    """Sets the parameters to a scripted sequence of values, one per step (a fake)."""

    def __init__(self, params, values):
        super().__init__(params, {})
        self.values = list(values)
        self.steps = 0
        self.seen = []  # the feedback texts each step received

    def step(self):
        value = self.values[self.steps % len(self.values)]
        self.steps += 1
        self.seen.append([str(r.feedback) for p in self.parameters() for r in p.feedback])
        if isinstance(value, BaseException):
            raise value
        for param in self.parameters():
            if param.feedback:
                param.data = value

    def state_dict(self):
        return {**super().state_dict(), "steps": self.steps}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.steps = state["steps"]


@to.bundle()
def answer(prompt: str, question: str) -> str:
    """Answer like the prompt says: 'shout' upper-cases, 'whisper' lower-cases."""
    if "crash" in prompt:
        raise ValueError("the prompt made the agent crash")
    if "shout" in prompt:
        return question.upper()
    if "whisper" in prompt:
        return question.lower()
    return question


class Echo(to.Module):
    def __init__(self):
        super().__init__()
        self.prompt = to.Parameter("repeat", description="how to answer")

    def forward(self, question):
        return answer(self.prompt, question)


def exact(output, target):
    return to.Feedback(text="right" if output == target else f"expected {target!r}", score=float(output == target))


TRAIN = [("Hello There My Friend", "HELLO THERE MY FRIEND"), ("Good Morning", "GOOD MORNING"),
         ("Nice Day", "NICE DAY"), ("See You", "SEE YOU")]
VAL = [("Thanks A Lot", "THANKS A LOT"), ("Bye Now", "BYE NOW")]


class ScriptedMutation(Optimizer):
    """A scripted fake mutation operator for search tests (not an LLM, not a recording): step n
    sets the parameters named in ``script[n]`` (a dict name -> value) and leaves the rest."""

    def __init__(self, agent, script, names=None):
        self.by_name = {n: p for n, p in agent.named_parameters() if names is None or n in names}
        super().__init__(list(self.by_name.values()), {})
        self.script = list(script)
        self.steps = 0

    def step(self):
        change = self.script[self.steps % len(self.script)]
        self.steps += 1
        for name, value in change.items():
            self.by_name[name].data = value

    def state_dict(self):
        return {**super().state_dict(), "steps": self.steps}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.steps = state["steps"]


@to.bundle()
def styled(case: str, mark: str, text: str) -> str:
    """The text in the case the parameter says ('upper', 'lower' or as it is), then the mark."""
    if case == "upper":
        text = text.upper()
    elif case == "lower":
        text = text.lower()
    return text + mark


class Styler(to.Module):
    """Two parameters a search can change apart: the case and the closing mark."""

    def __init__(self):
        super().__init__()
        self.case = to.Parameter("same", description="upper, lower or same")
        self.mark = to.Parameter("", description="what to end the text with")

    def forward(self, text):
        return styled(self.case, self.mark, text)


# Each row wants some mix of the two changes, so different candidates win different rows.
STYLE_ROWS = [("Ab", "AB!"), ("Ij", "IJ!"), ("Op", "OP!"), ("Cd", "CD"), ("Kl", "KL"), ("Ef", "Ef!"), ("Mn", "Mn!"),
              ("gh", "gh")]
