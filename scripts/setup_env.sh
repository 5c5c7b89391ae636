#!/usr/bin/env bash
# Create .venv and install exactly what a lock file names, every file checked against its hash.
# Usage: scripts/setup_env.sh LOCK [LOCK ...]   (each installed with --no-deps: the locks list everything)
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$python" -m venv .venv
# (this machine's pip.conf names extra index folders that may not exist: drop pip's noise about them)
pip_install() { .venv/bin/python -m pip install --quiet --disable-pip-version-check "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
# llama-cpp-python is never installed from a lock: scripts/build_llama.sh builds it portably (and caches
# the wheel under a key of its flags); every other line is installed as locked.
wants_llama=""
filtered=$(mktemp -d)
trap 'rm -rf "$filtered"' EXIT
for lock in "$@"; do
  grep -q '^llama-cpp-python==' "$lock" && wants_llama=1
  awk '/^llama-cpp-python==/ {skip=1} skip && !/\\$/ {skip=0; next} !skip' "$lock" > "$filtered/$(basename "$lock")"
  pip_install --require-hashes --no-deps -r "$filtered/$(basename "$lock")"
done
pip_install --no-deps --no-build-isolation -e .
if [ -n "$wants_llama" ]; then
  status=0
  scripts/build_llama.sh || status=$?
  # Exit 3: a CPU without the portable baseline. The tests go on without the real model (they say so);
  # the demo cannot.
  if [ "$status" != 0 ] && { [ "$status" != 3 ] || [ -z "${ALLOW_NO_LOCAL_MODEL:-}" ]; }; then exit "$status"; fi
fi

# Debian tools some features need, installed when we can (root and apt), else a note says what to install.
debian_tool() {  # debian_tool COMMAND PACKAGE WHAT-IT-IS-FOR
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's $2 for $3..."
    (apt-get install -y -qq "$2" >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "$2" >/dev/null 2>&1; }) \
      || echo "warning: could not install $2; $3 will say what to install or be skipped" >&2
  else
    echo "note: '$1' is missing; install Debian's '$2' package for $3" >&2
  fi
}
debian_tool dot graphviz "trace rendering"
case " $* " in
  *test.lock*) debian_tool chromium chromium "the report rendering test" ;;
esac
# Code an LLM wrote runs only in bubblewrap workers filtered by libseccomp (trace_opt/sandbox/isolation.py):
# without them such code is refused, so the tests need both.
debian_tool bwrap bubblewrap "isolated execution of LLM-written code"
if ! { ldconfig -p 2>/dev/null | grep -q 'libseccomp\.so\.2'; }; then
  debian_tool __no_such_command__ libseccomp2 "the system-call filter of isolated workers"
fi
