#!/usr/bin/env bash
# Create .venv and install exactly what a lock file names, every file checked against its hash.
# Usage: scripts/setup_env.sh LOCK [LOCK ...]   (each installed with --no-deps: the locks list everything)
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$python" -m venv .venv
# (this machine's pip.conf names extra index folders that may not exist: drop pip's noise about them)
pip_install() { .venv/bin/python -m pip install --quiet --disable-pip-version-check "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
for lock in "$@"; do
  pip_install --require-hashes --no-deps -r "$lock"
done
pip_install --no-deps --no-build-isolation -e .

# Rendering traces needs Graphviz's `dot` (Debian package `graphviz`): install it when we can.
if ! command -v dot >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's graphviz for trace rendering..."
    (apt-get install -y -qq graphviz >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq graphviz >/dev/null 2>&1; }) \
      || echo "warning: could not install graphviz; trace rendering will say what to install" >&2
  else
    echo "note: Graphviz's 'dot' is missing; install Debian's 'graphviz' package to render traces" >&2
  fi
fi

# The report test opens a report in headless Chromium (Debian package `chromium`): install it when we can.
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's chromium for the report rendering test..."
    (apt-get install -y -qq chromium >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1; }) \
      || echo "warning: could not install chromium; the report rendering test will be skipped" >&2
  else
    echo "note: 'chromium' is missing; install Debian's 'chromium' package to run the report rendering test" >&2
  fi
fi
