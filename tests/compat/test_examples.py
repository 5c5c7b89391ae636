"""The three Trace tutorials ported to examples/ through the compat import run offline and end
where the tutorial does (their optimizer LLM is the scripted fake, NOT a model)."""
import subprocess
import sys
from pathlib import Path


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(name):
    done = subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_basics():
    out = run("trace_basics.py")
    assert "computed from ['node_x', 'node_y']" in out and "(ZeroDivisionError) division by zero" in out
    assert "a: feedback 'The result should be even.'" in out


def test_numeric_optimization_with_optoprime():
    out = run("trace_numeric_optoprime.py")
    assert "step 0: x=-1.0, output=6.0, feedback=The number needs to be larger." in out
    assert "feedback=Success." in out


def test_code_optimization_of_a_small_agent():
    out = run("trace_code_agent.py")
    assert "epoch 0: 'Hello, Juan!' -> Incorrect" in out and "'Hola, Juan!' -> Correct" in out
    assert "English still works: Hello, Ann!" in out
