#!/usr/bin/env bash
# Build (once) and install into .venv the embedded model server's llama-cpp-python, portably.
#
# Why not `pip install` from the lock: pip builds llama.cpp with -march=native (its AMX path crashed
# every request on an Intel Xeon under KVM) and its wheel cache does not key on CMAKE_ARGS, so a
# wheel from an earlier native build is silently reused. Here the sdist comes hash-checked from
# requirements/demo.lock, the backend from requirements/llama-build.lock, the flags from
# requirements/llama-cpu.flags, and the wheel goes to a cache folder named after all of them: the
# first build compiles (~4-15 min on 2 cores), every later one installs the cached wheel in seconds.
# Exit 3: this CPU cannot run the portable build (no AVX2/FMA/F16C/BMI2), so nothing is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
venv_python=.venv/bin/python
[ -x "$venv_python" ] || { echo "build_llama.sh: create .venv first (scripts/setup_env.sh)" >&2; exit 2; }

missing=""
if [ "$(uname -m)" != x86_64 ]; then
  missing="an x86-64 CPU (this is $(uname -m))"
else
  for flag in avx avx2 fma f16c bmi2; do
    grep -qw "$flag" /proc/cpuinfo || missing="$missing $flag"
  done
fi
if [ -n "$missing" ]; then
  echo "build_llama.sh: the embedded model's llama.cpp build needs AVX2, FMA, F16C and BMI2; this CPU lacks:$missing." >&2
  echo "  The embedded model is not installed. Use another model: TRACE_OPT_MODEL=openai/gpt-4o-mini (with its key)," >&2
  echo "  or TRACE_OPT_MODEL=openai/NAME TRACE_OPT_API_BASE=http://host:port/v1 for any OpenAI-compatible server." >&2
  exit 3
fi

entry=$(grep -A1 '^llama-cpp-python==' requirements/demo.lock | tr -d '\\\n' | tr -s ' ')
version=$(sed -n 's/^llama-cpp-python==\([^ ]*\).*/\1/p' <<<"$entry")
sdist_hash=$(sed -n 's/.*--hash=sha256:\([0-9a-f]*\).*/\1/p' <<<"$entry")
[ -n "$version" ] && [ -n "$sdist_hash" ] || { echo "build_llama.sh: no hashed llama-cpp-python in requirements/demo.lock" >&2; exit 2; }
flags=$(grep -v '^\s*#' requirements/llama-cpu.flags | grep -v '^\s*$' | tr '\n' ' ' | sed 's/ $//')
# Never a native build, whatever the flags file says: -march=native compiled llama.cpp's AMX path on a
# Xeon under KVM and it crashed on every request. The portable baseline needs -DGGML_NATIVE=OFF.
case " $flags " in
  *" -DGGML_NATIVE=OFF "*) ;;
  *) echo "build_llama.sh: requirements/llama-cpu.flags must hold -DGGML_NATIVE=OFF (a native build is not portable)" >&2
     exit 2 ;;
esac
case " $flags " in
  *"GGML_NATIVE=ON"*|*"march=native"*|*"mtune=native"*)
     echo "build_llama.sh: requirements/llama-cpu.flags asks for a native build; the embedded model must build portably" >&2
     exit 2 ;;
esac
python_tag=$("$venv_python" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
key=$(printf '%s\n' "$version" "$sdist_hash" "$flags" "$python_tag" "$(grep -v '^#' requirements/llama-build.lock)" | sha256sum | cut -c1-16)
cache="${TRACE_OPT_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/trace_opt/wheels}/llama-cpp-python-$version-$key"

pip_quiet() { "$@" --quiet --disable-pip-version-check 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }

wheel=$(ls "$cache"/llama_cpp_python-*.whl 2>/dev/null | head -1 || true)
if [ -z "$wheel" ]; then
  echo "building llama-cpp-python $version portably (first time only; ~4-15 min on 2 cores): $flags"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "llama-cpp-python==$version --hash=sha256:$sdist_hash" > "$work/sdist.txt"
  pip_quiet "$venv_python" -m pip download --no-deps --no-binary :all: --require-hashes -r "$work/sdist.txt" -d "$work/sdist"
  python3=$("$venv_python" -c 'import sys; print(sys._base_executable)')
  "$python3" -m venv "$work/build-venv"
  pip_quiet "$work/build-venv/bin/python" -m pip install --require-hashes --no-deps -r requirements/llama-build.lock
  CMAKE_ARGS="$flags" pip_quiet "$work/build-venv/bin/python" -m pip wheel --no-deps --no-build-isolation \
    --no-cache-dir -w "$work/wheel" "$work"/sdist/llama_cpp_python-"$version".tar.gz
  mkdir -p "$(dirname "$cache")"
  printf 'llama-cpp-python %s (sdist sha256 %s)\nCMAKE_ARGS=%s\n' "$version" "$sdist_hash" "$flags" > "$work/wheel/BUILD-INFO"
  rm -rf "$cache.tmp" && mv "$work/wheel" "$cache.tmp" && mv "$cache.tmp" "$cache"   # appears whole or not at all
  wheel=$(ls "$cache"/llama_cpp_python-*.whl | head -1)
fi

if [ "$(cat .venv/.llama-build-key 2>/dev/null)" != "$key" ]; then
  pip_quiet "$venv_python" -m pip install --no-deps --force-reinstall "$wheel"
  echo "$key" > .venv/.llama-build-key
fi
# What the installed library was built with (its system-info line): the portable baseline, nothing more.
"$venv_python" -c "import sys; from trace_opt.llm.build_info import main; sys.exit(main(['--check']))"
