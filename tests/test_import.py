"""`import trace_opt` stays light: heavy dependencies load only when used."""
import subprocess
import sys


def test_import_does_not_pull_heavy_dependencies():
    code = "import sys, trace_opt; print(sorted(m for m in ('torch', 'litellm', 'openai', 'networkx', 'graphviz', 'mlflow', 'wandb', 'opentelemetry', 'fastapi', 'uvicorn', 'trace_opt.train') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
