"""Every parser of untrusted text is bounded: a reply nested 100,000 deep is an unusable reply, a
deep or malformed checkpoint or module file is a ValueError, a checkpoint at step -5 does not
resume; redaction finds a secret a candidate disguised."""
import base64
import json

import pytest

from pydantic import BaseModel

from trace_opt.llm.errors import redact
from trace_opt.llm.structured import UnusableReply, parse_reply
from trace_opt.train.checkpoint import CHECKPOINT

from .checks import make

DEEP = "[" * 100_000 + "]" * 100_000


class Answer(BaseModel):
    answer: str


def test_a_reply_nested_100000_deep_is_an_unusable_reply_not_a_recursion_error():
    """UnusableReply is what the client re-asks on and an optimizer then skips the step for."""
    for reply in (DEEP, "Sure! " + DEEP, "```json\n" + '{"answer": ' + DEEP + "}\n```"):
        with pytest.raises(UnusableReply, match="nested"):
            parse_reply(reply, Answer)


def test_deep_or_negative_checkpoints_and_deep_module_files_are_value_errors(tmp_path):
    agent, trainer = make(tmp_path)
    trainer.fit()
    state = json.loads((tmp_path / CHECKPOINT).read_text())
    (tmp_path / CHECKPOINT).write_text(json.dumps({**state, "step": -5}))
    with pytest.raises(ValueError, match="'step' must be a count"):
        trainer.resume()
    (tmp_path / CHECKPOINT).write_text('{"agent": ' + DEEP + "}")
    with pytest.raises(ValueError, match="nested 100001 deep"):
        trainer.resume()
    (tmp_path / "agent.json").write_text('{"format": ' + DEEP + "}")
    with pytest.raises(ValueError, match="not a trace_opt module file"):
        agent.load(tmp_path / "agent.json")


@pytest.mark.parametrize("disguise", [
    lambda k: k[::-1], lambda k: " ".join(k), lambda k: k[:6] + '" + "' + k[6:], lambda k: k.encode().hex(),
    lambda k: base64.b64encode(b"pad" + k.encode()).decode(), lambda k: base64.b64encode(b"p" + k.encode()).decode(),
    lambda k: base64.urlsafe_b64encode(k.encode()).decode(),
], ids=["reversed", "spaced", "split", "hex", "base64 aligned", "base64 shifted", "urlsafe base64"])
def test_redaction_finds_a_disguised_secret(disguise, monkeypatch):
    key = "s3cret-VALUE-0123456789"
    monkeypatch.setenv("MY_SERVICE_CREDENTIAL", key)  # a credential-looking name: a secret
    text = f"the candidate says: {disguise(key)} (done)"
    assert redact(text) != text and "***" in redact(text)
    assert redact("nothing secret in here") == "nothing secret in here"
