"""Reading JSON out of model replies and wording the re-ask, without any server."""
from typing import List

import pytest
from pydantic import BaseModel

from trace_opt.llm.structured import (
    UnusableReply, check_schema, extract_json, parse_reply, reask_messages, response_format,
)


class Suggestion(BaseModel):
    reasoning: str
    suggestion: dict
    tags: List[str] = []


@pytest.mark.parametrize("text", [
    '{"a": 1}',
    '  {"a": 1}\n',
    '```json\n{"a": 1}\n```',
    '```\n{"a": 1}\n```',
    'Here you go: {"a": 1} -- done',
    'I think {not json} but then {"a": 1}',
])
def test_extract_json_tolerates_wrapping(text):
    assert extract_json(text) == {"a": 1}


@pytest.mark.parametrize("text, why", [
    ("", "empty"), ("   \n", "empty"), ("twelve", "not valid JSON"),
    ('{"a": "cut sh', "not valid JSON"),
])
def test_extract_json_says_why_it_failed(text, why):
    with pytest.raises(UnusableReply, match=why):
        extract_json(text)


def test_parse_reply_validates_and_names_fields():
    assert parse_reply('{"reasoning": "r", "suggestion": {"x": 1}}', Suggestion).suggestion == {"x": 1}
    with pytest.raises(UnusableReply) as caught:
        parse_reply('{"reasoning": 5}', Suggestion)
    message = str(caught.value)
    assert "reasoning: Input should be a valid string" in message and "suggestion: Field required" in message
    assert "https://" not in message
    with pytest.raises(UnusableReply, match="not an object"):
        parse_reply("[1, 2]", Suggestion)


def test_response_format_local_and_hosted():
    local = response_format(Suggestion, local_server=True)
    assert local == {"type": "json_object", "schema": Suggestion.model_json_schema()}
    hosted = response_format(Suggestion, local_server=False)
    assert hosted["type"] == "json_schema"
    assert hosted["json_schema"] == {"name": "Suggestion", "schema": Suggestion.model_json_schema()}


def test_reask_quotes_error_and_keeps_the_conversation_short():
    base = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
    messages = reask_messages(base, "bad reply", "the reply is not valid JSON (x)", Suggestion)
    assert messages[:2] == base and messages[2] == {"role": "assistant", "content": "bad reply"}
    assert "the reply is not valid JSON (x)" in messages[3]["content"]
    assert '"reasoning"' in messages[3]["content"]
    assert len(reask_messages(base, "", "the reply was empty", Suggestion)) == 3


def test_check_schema_rejects_non_models():
    with pytest.raises(TypeError, match="pydantic"):
        check_schema(dict)
    assert check_schema(Suggestion) is Suggestion


def test_raw_newlines_inside_strings_are_accepted():
    from trace_opt.llm.structured import extract_json

    assert extract_json('{"code": "def f():\n\treturn 1"}') == {"code": "def f():\n\treturn 1"}
