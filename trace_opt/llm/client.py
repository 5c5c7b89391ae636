"""`LLM`: the one client every model call in trace_opt goes through.

A call runs: normalise the messages -> response cache (hits are free) -> budget check
(before anything is sent) -> the provider through litellm, retried on transient errors
-> usage, budget and cache updated. `structured` adds JSON parsing into a pydantic model
with re-asks that quote the error. Sync and async share every step but the waiting.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, NoReturn, Optional, Tuple, Type, TypeVar, Union

import tenacity
from pydantic import BaseModel

from . import accounts, health, local, local_request, provider, telemetry
from .budget import Budget
from .cache import ResponseCache, cache_key, default_cache
from .errors import BudgetExceeded, LLMError, ProviderError, ReplyError, holds_secret, redact, truncate
from .retry import describe, retry_policy, status_of
from .structured import UnusableReply, check_schema, parse_reply, reask_messages, response_format
from .rollout_scope import current_rollout
from .usage import Usage, UsageMeter

log = logging.getLogger("trace_opt.llm")

M = TypeVar("M", bound=BaseModel)
Prompt = Union[str, List[Mapping[str, Any]]]

HOSTED_TIMEOUT = 60.0  # seconds a request, when the LLM was given none

_RESERVED = {"model", "messages", "api_key", "api_base", "base_url", "stream"}


def to_messages(prompt: Prompt) -> List[Dict[str, Any]]:
    """Chat messages from a string (one user message) or a list of {'role', 'content'} dicts."""
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    if isinstance(prompt, (list, tuple)) and prompt:
        messages = []
        for index, message in enumerate(prompt):
            if not isinstance(message, Mapping) or not isinstance(message.get("role"), str) \
                    or "content" not in message:
                raise TypeError(f"message {index} must be a dict with a str 'role' and a 'content', got {message!r}")
            messages.append(dict(message))
        return messages
    raise TypeError(f"prompt must be a str or a non-empty list of {{'role': ..., 'content': ...}} dicts, "
                    f"got {type(prompt).__name__}")


def _check_options(options: Mapping[str, Any], where: str) -> None:
    reserved = sorted(_RESERVED & set(options))
    if reserved:
        raise TypeError(f"{', '.join(reserved)} cannot be passed {where}; set model, api_base and api_key "
                        f"when creating the LLM (streaming is not supported)")


@dataclass
class _Request:
    messages: List[Dict[str, Any]]
    params: Dict[str, Any]        # everything sent that can change the reply
    timeout: Optional[float]
    cache: Optional[ResponseCache]
    key: Optional[str]
    budgets: List[Budget] = field(default_factory=list)   # reserved for this call: its own, the scopes'
    estimate: Tuple[int, float] = (0, 0.0)                 # (prompt tokens, dollars) the budgets reserved


class LLM:
    """A chat model (any litellm model string) with retries, structured output, accounting,
    a budget and a response cache. With no model, the embedded local SmolLM2 server."""

    def __init__(self, model: Optional[str] = None, api_base: Optional[str] = None, api_key: Optional[str] = None,
                 temperature: float = 0.0, budget: Optional[Budget] = None,
                 cache: Union[None, bool, str, os.PathLike, ResponseCache] = None, max_retries: int = 4,
                 max_reasks: int = 3, timeout: Optional[float] = None, seed: Optional[int] = None,
                 **completion_kwargs: Any):
        self.model, self.api_base, self._api_key, self.local = _resolve(model, api_base, api_key)
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or temperature < 0:
            raise ValueError(f"temperature must be a number >= 0, got {temperature!r}")
        for name, value in (("max_retries", max_retries), ("max_reasks", max_reasks)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an int >= 0, got {value!r}")
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                    or timeout <= 0):
            raise ValueError(f"timeout must be a number of seconds > 0 or None, got {timeout!r}")
        if budget is not None and not isinstance(budget, Budget):
            raise TypeError(f"budget must be a trace_opt.llm.Budget or None, got {type(budget).__name__}")
        _check_options(completion_kwargs, "as completion options")
        # None: 60 s a request for a hosted model; for the embedded one, a deadline sized to each request.
        self.timeout = None if timeout is None else float(timeout)
        self.temperature, self.seed = float(temperature), seed
        self.max_retries, self.max_reasks = max_retries, max_reasks
        self.budget = budget
        self.completion_kwargs = dict(completion_kwargs)
        self._cache_setting = cache
        self._meter = UsageMeter()

    # ---- public surface -------------------------------------------------------------------

    @property
    def usage(self) -> Usage:
        """What this object has spent so far (a snapshot)."""
        return self._meter.snapshot()

    @property
    def context_window(self) -> Optional[int]:
        """Input tokens the model accepts, when known (2048 for the embedded model)."""
        if self.local:
            return local.context_size()
        if self.model == local.MODEL and self.api_base:
            return local.CONTEXT_WINDOW
        return provider.context_window(self.model)

    def __call__(self, prompt: Prompt, **overrides: Any) -> str:
        """The reply text to `prompt` (a string or chat messages); `overrides` change completion options."""
        return self._complete(to_messages(prompt), overrides, None)

    async def acall(self, prompt: Prompt, **overrides: Any) -> str:
        """Async `__call__`."""
        return await self._acomplete(to_messages(prompt), overrides, None)

    def structured(self, messages: Prompt, schema: Type[M], **overrides: Any) -> M:
        """A validated `schema` instance; unusable replies are re-asked up to `max_reasks` times,
        then `ReplyError`."""
        reask = _Reask(self, to_messages(messages), check_schema(schema))
        while not reask.done:
            reask.check(self._complete(reask.messages, overrides, reask.response_format))
        return reask.result

    async def astructured(self, messages: Prompt, schema: Type[M], **overrides: Any) -> M:
        """Async `structured`."""
        reask = _Reask(self, to_messages(messages), check_schema(schema))
        while not reask.done:
            reask.check(await self._acomplete(reask.messages, overrides, reask.response_format))
        return reask.result

    def __deepcopy__(self, memo: dict) -> "LLM":
        """A client is shared, not copied: a copy of an agent (``to.compile``'s) spends through the
        same meter, cache and budget as the original."""
        return self

    def __repr__(self) -> str:
        where = "embedded local server, started on first call" if self.local else self.api_base
        return f"LLM(model={self.model!r}, api_base={where!r}, temperature={self.temperature})"

    # ---- one request ----------------------------------------------------------------------

    @property
    def constrains_json_schema(self) -> bool:
        """Whether the server constrains the reply to a JSON schema it is sent (llama.cpp's form:
        an OpenAI-compatible server we point at ourselves), so a reply schema can close its fields."""
        return self.model.startswith("openai/") and (self.local or bool(self.api_base))

    local_server = constrains_json_schema   # the earlier name

    def _cache_for(self, temperature: float, in_rollout: bool = False) -> Optional[ResponseCache]:
        """The cache for a call: none for a sample (temperature > 0) unless it is made inside a
        named rollout (``rollout_scope``), whose samples are kept under the rollout's id."""
        setting = self._cache_setting
        if setting is False or (setting is None and temperature != 0 and not in_rollout):
            return None
        if isinstance(setting, ResponseCache):
            return setting
        if isinstance(setting, (str, os.PathLike)):
            return ResponseCache(Path(setting) / "responses.sqlite3")
        return default_cache()

    def _request(self, messages: List[Dict[str, Any]], overrides: Dict[str, Any],
                 response_format: Optional[dict]) -> _Request:
        _check_options(overrides, "per call")
        params = {**self.completion_kwargs, **overrides}
        timeout = params.pop("timeout", self.timeout)
        timeout = None if timeout is None else float(timeout)
        seed = params.pop("seed", self.seed)
        params["temperature"] = params.get("temperature", self.temperature)
        if seed is not None:
            params["seed"] = seed
        if response_format is not None:
            params["response_format"] = response_format
        rollout = current_rollout()
        cache = self._cache_for(params["temperature"], in_rollout=rollout is not None)
        key = cache_key(self.model, local.cache_id() if self.local else self.api_base, messages, params) \
            if cache is not None else None
        if key is not None and rollout is not None and params["temperature"] != 0:
            key = rollout.key(key)  # this rollout's own sample, the same one when the rollout runs again
        return _Request(messages, params, timeout, cache, key)

    def _cached(self, request: _Request) -> Optional[str]:
        if request.cache is None:
            return None
        hit = request.cache.get(request.key)
        if hit is None:
            return None
        self._count(cache_hits=1)
        health.record_answer()
        log.debug("%s: cache hit %s", self.model, request.key[:12])
        return hit["reply"]

    def _count(self, **deltas: float) -> None:
        """Add to this object's usage and to every open accounting scope's."""
        accounts.count(self._meter, **deltas)

    def _reserve(self, request: _Request) -> None:
        """Reserve the call in this LLM's budget and every open scope's (all or none)."""
        budgets = accounts.budgets(self.budget)
        if not budgets:
            return
        tokens, cost = 0, 0.0
        if any(b.needs_estimate for b in budgets):
            tokens = provider.estimate_prompt_tokens(self.model, request.messages)
            if any(b.max_usd is not None for b in budgets):
                cost = provider.cost_usd(self.model, tokens, int(request.params.get("max_tokens") or 0))
        request.estimate = (tokens, cost)
        try:
            for budget in budgets:
                budget.reserve(tokens, cost)
                request.budgets.append(budget)
        except BudgetExceeded:
            self._release(request)
            raise

    @staticmethod
    def _release(request: _Request) -> None:
        for budget in request.budgets:
            budget.release(*request.estimate)
        request.budgets = []

    def _finish(self, request: _Request, response: Any, started: float) -> str:
        text = provider.reply_text(response)
        prompt_tokens, completion_tokens = provider.token_counts(response)
        cost = provider.cost_usd(self.model, prompt_tokens, completion_tokens) \
            if prompt_tokens or completion_tokens else 0.0
        self._count(calls=1, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, cost_usd=cost)
        health.record_answer()
        for budget in request.budgets:
            budget.record(prompt_tokens + completion_tokens, cost, *request.estimate)
        if request.cache is not None and text.strip():
            request.cache.put(request.key, self.model, text, prompt_tokens, completion_tokens)
        log.debug("%s: %d prompt + %d completion tokens, $%.6f, %.2f s", self.model, prompt_tokens,
                  completion_tokens, cost, time.monotonic() - started)
        if not text.strip():
            log.warning("%s: the reply was empty", self.model)
        return text

    def _retry_policy(self, counter: List[int]) -> dict:
        def on_retry(error: BaseException, wait: float, attempt: int) -> None:
            counter[0] += 1
            self._count(retries=1)
            log.warning("%s: %s (attempt %d of %d), retrying in %.2f s", self.model, describe(error), attempt,
                        self.max_retries + 1, wait)
        return retry_policy(self.max_retries, on_retry)

    def _provider_error(self, error: Exception, retries: int) -> ProviderError:
        reason = truncate(redact(str(error) or type(error).__name__, [self._api_key]), 500)
        failure = ProviderError(self.model, status_of(error), reason, retries, describe(error))
        log.warning("%s", failure)
        return failure

    def _arguments(self, request: _Request, api_base: Optional[str]) -> tuple:
        params = dict(request.params, timeout=HOSTED_TIMEOUT if request.timeout is None else request.timeout)
        return self.model, request.messages, api_base, self._api_key, params

    def _local(self, request: _Request) -> Any:
        """The embedded server: queued, streamed, sized deadline, never retried behind itself."""
        return local_request.complete(self.model, request.messages, self._api_key, request.params, request.timeout)

    def _begin(self, request: _Request) -> Optional[str]:
        """The cached reply, or None with the call's budget reserved (to send)."""
        cached = self._cached(request)
        if cached is None:
            self._reserve(request)
        return cached

    def _span(self, request: _Request) -> Any:
        return telemetry.chat_span(self.model, self.api_base, request.params, request.messages, [self._api_key])

    def _fail(self, request: _Request, error: BaseException, retries: int) -> NoReturn:
        """Give the reserved call back and raise: our own errors and interrupts as they are,
        anything from the provider as a `ProviderError` (free of the key)."""
        self._release(request)
        if isinstance(error, Exception) and not isinstance(error, BudgetExceeded):
            health.record_failure(error)
        if isinstance(error, LLMError) or not isinstance(error, Exception):
            raise error
        failure = self._provider_error(error, retries)
        # Chain the original only when its text (and its chain's) is free of keys, this client's or
        # one litellm took from the environment.
        raise failure from (None if holds_secret(error, [self._api_key]) else error)

    def _complete(self, messages: List[Dict[str, Any]], overrides: Dict[str, Any],
                  response_format: Optional[dict]) -> str:
        request = self._request(messages, overrides, response_format)
        with self._span(request) as span:
            cached = self._begin(request)
            if cached is not None:
                return span.cached(cached)
            started, retries = time.monotonic(), [0]
            try:
                if self.local:
                    response = self._local(request)
                else:
                    retrying = tenacity.Retrying(**self._retry_policy(retries))
                    response = retrying(provider.complete, *self._arguments(request, self.api_base))
            except BaseException as error:
                self._fail(request, error, retries[0])
            return span.answered(response, self._finish(request, response, started))

    async def _acomplete(self, messages: List[Dict[str, Any]], overrides: Dict[str, Any],
                         response_format: Optional[dict]) -> str:
        request = self._request(messages, overrides, response_format)
        with self._span(request) as span:
            cached = self._begin(request)
            if cached is not None:
                return span.cached(cached)
            started, retries = time.monotonic(), [0]
            try:
                if self.local:  # one request at a time on that server anyway: a thread waits for it
                    response = await asyncio.to_thread(self._local, request)
                else:
                    retrying = tenacity.AsyncRetrying(**self._retry_policy(retries))
                    response = await retrying(provider.acomplete, *self._arguments(request, self.api_base))
            except BaseException as error:
                self._fail(request, error, retries[0])
            return span.answered(response, self._finish(request, response, started))


class _Reask:
    """The re-ask loop's state, shared by `structured` and `astructured`: each unusable reply
    is answered with the original messages, that reply and the error, until `max_reasks`."""

    def __init__(self, llm: LLM, messages: List[Dict[str, Any]], schema: Type[BaseModel]):
        self.llm, self.original, self.schema = llm, messages, schema
        self.messages = messages
        self.response_format = response_format(schema, llm.constrains_json_schema)
        self.replies = 0
        self.done = False
        self.result: Any = None

    def check(self, reply: str) -> None:
        self.replies += 1
        try:
            self.result, self.done = parse_reply(reply, self.schema), True
            return
        except UnusableReply as error:
            reason = str(error)
        if self.replies > self.llm.max_reasks:
            failure = ReplyError(self.llm.model, reason, reply, self.replies)
            log.warning("%s", failure)
            raise failure
        self.llm._count(reasks=1)
        log.warning("%s: unusable reply (%s); re-asking (%d of %d)", self.llm.model, reason, self.replies,
                    self.llm.max_reasks)
        self.messages = reask_messages(self.original, reply, reason, self.schema)


def _resolve(model: Optional[str], api_base: Optional[str], api_key: Optional[str]) -> tuple:
    """(model, api_base, api_key, local): the given model, else TRACE_OPT_MODEL / _API_BASE /
    _API_KEY, else the embedded local model (a server at TRACE_OPT_API_BASE if one is named)."""
    if model is None:
        api_base = api_base or os.environ.get("TRACE_OPT_API_BASE") or None
        api_key = api_key or os.environ.get("TRACE_OPT_API_KEY") or None
        model = (os.environ.get("TRACE_OPT_MODEL") or "").strip() or None
        if model is None:
            local_default = api_base is None
            return (local.model_name() if local_default else local.MODEL), api_base, api_key or local.DUMMY_KEY, \
                local_default
    if not isinstance(model, str) or not model.strip():
        raise ValueError(f"model must be a litellm model string such as 'openai/gpt-4o-mini', got {model!r}")
    if api_key is None and api_base and model.startswith("openai/") and not os.environ.get("OPENAI_API_KEY"):
        api_key = local.DUMMY_KEY  # OpenAI-compatible servers often need no key; the client wants one
    return model, api_base, api_key, False
