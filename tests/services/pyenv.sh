#!/usr/bin/env bash
# pyenv.sh — the Python the test receiver runs on: a venv under
# ~/.cache/kaudit/venv holding the Standard Webhooks reference
# implementation (the standardwebhooks package from PyPI, pinned), so the
# receiver verifies kaudit's signatures with code kaudit did not write.
# Idempotent: does nothing when the venv already has the pinned version.
# Prints the venv's python3 on stdout; progress and errors go to stderr.
set -euo pipefail

version=1.1.0
venv=${KAUDIT_VENV:-$HOME/.cache/kaudit/venv}
py=$venv/bin/python3

if [ -x "$py" ] && "$py" -c "import importlib.metadata as m, sys
sys.exit(m.version('standardwebhooks') != '$version')" 2>/dev/null; then
	echo "$py"
	exit 0
fi
echo "pyenv.sh: making $venv with standardwebhooks==$version" >&2
mkdir -p "$(dirname "$venv")"
log=$(mktemp /tmp/kaudit-pyenv.XXXXXX)
if ! { python3 -m venv "$venv" &&
    "$py" -m pip install -q --disable-pip-version-check "standardwebhooks==$version"; } >"$log" 2>&1; then
	tail -n 20 "$log" >&2
	echo "pyenv.sh: could not make the venv (python3-venv installed? PyPI reachable?)" >&2
	exit 1
fi
rm -f "$log"
echo "$py"
