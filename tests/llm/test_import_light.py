"""`import trace_opt.llm` and building an LLM load neither litellm nor openai; the first call does."""
import subprocess
import sys
from pathlib import Path

import trace_opt.llm

CODE = """
import sys
import trace_opt, trace_opt.llm
from trace_opt.llm import LLM, Budget
llm = trace_opt.LLM("openai/gpt-4o-mini", budget=Budget(max_calls=1))
assert LLM is trace_opt.LLM and trace_opt.llm.LLM is LLM
print(sorted(m for m in ("litellm", "openai", "httpx", "tiktoken") if m in sys.modules))
"""


def test_llm_layer_imports_light():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_llm_layer_imports_nothing_above_it():
    """The LLM layer knows nothing of graphs or optimizers (layers point down only)."""
    for path in Path(trace_opt.llm.__file__).parent.glob("*.py"):
        source = path.read_text()
        for above in ("trace_opt.graph", "trace_opt.optim", "from ..graph", "from ..optim", "from .. import"):
            assert above not in source, f"{path.name} imports {above}"
