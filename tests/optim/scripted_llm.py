"""ScriptedLLM: a fake LLM for unit tests, NOT a recording of a real model.

It hands out queued replies in order: a dict is validated into the requested schema (as the
LLM layer would after parsing), an exception is raised. Real-model traffic lives in
cassettes/ and is replayed by the tests that use them.
"""
from typing import Any, List


class ScriptedLLM:
    def __init__(self, replies: List[Any], context_window: int = 2048):
        self.replies = list(replies)
        self.calls: List[dict] = []
        self.context_window = context_window

    def structured(self, messages, schema, **options):
        self.calls.append({"messages": messages, "schema": schema, "options": options})
        if not self.replies:
            raise AssertionError("ScriptedLLM ran out of scripted replies")
        reply = self.replies.pop(0)
        if isinstance(reply, BaseException):
            raise reply
        return schema.model_validate(reply)
