"""Shared test set-up: offline and deterministic.

LLM traffic is replayed from cassettes/ (recorded from a real llama.cpp server by
`make record`); with the default record mode "none" a request missing from a cassette fails.
"""
import os
from pathlib import Path

import pytest

# litellm would fetch its price map from the network at import time without this.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

ROOT = Path(__file__).resolve().parents[1]
# Where `make record` starts the local model server; cassettes hold this address.
LOCAL_API_BASE = os.environ.get("TRACE_OPT_RECORD_API_BASE", "http://127.0.0.1:8765/v1")


@pytest.fixture(autouse=True, scope="session")
def _isolated_llm_cache(tmp_path_factory):
    """Each test session gets an empty response cache, so cassettes, not old runs, answer."""
    os.environ["TRACE_OPT_CACHE_DIR"] = str(tmp_path_factory.mktemp("llm-cache"))


@pytest.fixture(scope="module")
def vcr_config():
    return {
        "filter_headers": ["authorization", "x-api-key", "api-key", "openai-organization"],
        "match_on": ["method", "host", "port", "path", "body"],
        "decode_compressed_response": True,
    }


@pytest.fixture(scope="module")
def vcr_cassette_dir(request):
    return str(ROOT / "cassettes" / request.module.__name__.split(".")[-1])


@pytest.fixture
def local_llm():
    """The real local model (SmolLM2-135M on llama.cpp) as cassettes recorded it."""
    from trace_opt.llm import LLM

    return LLM(model="openai/smollm2", api_base=LOCAL_API_BASE, api_key="sk-no-key-needed", cache=False)
