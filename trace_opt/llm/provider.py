"""The only place that touches litellm: lazy import, one completion attempt, reading the
reply, tokens and price.

litellm costs seconds and ~200 MB to import, and without LITELLM_LOCAL_MODEL_COST_MAP it
fetches its price map from the network, so it is imported here on the first call only.
Its own retries (and the openai client's) are switched off: retry.py decides.
"""
from __future__ import annotations

import logging
import math
import os
import threading
from typing import Any, Dict, Iterator, List, Optional, Tuple

_litellm: Any = None
_import_lock = threading.Lock()


def litellm() -> Any:
    """The litellm module, imported once, quietly and offline."""
    global _litellm
    if _litellm is None:
        with _import_lock:
            if _litellm is None:
                os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
                import litellm as module

                module.suppress_debug_info = True
                for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
                    chatty = logging.getLogger(name)
                    if chatty.level == logging.NOTSET:  # not configured by the user: warnings only
                        chatty.setLevel(logging.WARNING)
                if hasattr(module, "telemetry"):
                    module.telemetry = False
                _litellm = module
    return _litellm


def _arguments(model: str, messages: List[dict], api_base: Optional[str], api_key: Optional[str],
               params: Dict[str, Any]) -> Dict[str, Any]:
    args = dict(params, model=model, messages=messages, num_retries=0, max_retries=0)
    if api_base is not None:
        args["api_base"] = api_base
    if api_key is not None:
        args["api_key"] = api_key
    return args


def complete(model: str, messages: List[dict], api_base: Optional[str], api_key: Optional[str],
             params: Dict[str, Any]) -> Any:
    """One attempt, no retries; raises whatever the provider raised."""
    return litellm().completion(**_arguments(model, messages, api_base, api_key, params))


async def acomplete(model: str, messages: List[dict], api_base: Optional[str], api_key: Optional[str],
                    params: Dict[str, Any]) -> Any:
    """One async attempt, no retries."""
    return await litellm().acompletion(**_arguments(model, messages, api_base, api_key, params))


def stream(model: str, messages: List[dict], api_base: Optional[str], api_key: Optional[str],
           params: Dict[str, Any]) -> Iterator[Tuple[str, Optional[str]]]:
    """One streamed attempt, no retries: yields (text piece, finish reason or None) as the server
    sends them. Closing the generator (or leaving its loop) closes the connection, and a server
    that checks for a gone client (llama.cpp's does, per token) stops generating."""
    chunks = litellm().completion(**_arguments(model, messages, api_base, api_key, dict(params, stream=True)))
    try:
        for chunk in chunks:
            choices = getattr(chunk, "choices", None) or []
            if not choices:
                continue
            delta = getattr(choices[0], "delta", None)
            piece = getattr(delta, "content", None)
            yield (piece if isinstance(piece, str) else ""), getattr(choices[0], "finish_reason", None)
    finally:
        chunks.close()


def reply_text(response: Any) -> str:
    """The first choice's message text ('' when the model sent none)."""
    try:
        content = response.choices[0].message.content
    except (AttributeError, IndexError, KeyError, TypeError):
        return ""
    return content if isinstance(content, str) else ""


def token_counts(response: Any) -> Tuple[int, int]:
    """(prompt_tokens, completion_tokens) the provider reported, 0 when it did not."""
    usage = getattr(response, "usage", None)
    prompt = getattr(usage, "prompt_tokens", 0) or 0
    completion = getattr(usage, "completion_tokens", 0) or 0
    return int(prompt), int(completion)


def cost_usd(model: str, prompt_tokens: int, completion_tokens: int) -> float:
    """Price from litellm's (local) price map; 0.0 for models it does not know (e.g. the local one)."""
    try:
        prompt_cost, completion_cost = litellm().cost_per_token(
            model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
        total = float(prompt_cost) + float(completion_cost)
    except Exception:  # unknown model, missing price: free as far as we can tell
        return 0.0
    return total if math.isfinite(total) and total > 0 else 0.0


def estimate_prompt_tokens(model: str, messages: List[dict]) -> int:
    """Prompt size before sending: litellm's tokenizer when it works, else ~4 characters a token."""
    try:
        return int(litellm().token_counter(model=model, messages=messages))
    except Exception:
        characters = sum(len(str(m.get("content") or "")) for m in messages)
        return characters // 4 + 4 * len(messages)


def context_window(model: str) -> Optional[int]:
    """Input tokens the model accepts, when litellm's price map says."""
    try:
        info = litellm().get_model_info(model)
    except Exception:
        return None
    window = info.get("max_input_tokens") or info.get("max_tokens")
    return int(window) if window else None
