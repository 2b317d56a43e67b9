#!/usr/bin/env bash
# Prints the directory holding a python3.13 interpreter, for `sam build` of the python3.13
# runtime on machines whose default python is older. Looks on PATH first, then in pyenv.
set -euo pipefail

if command -v python3.13 >/dev/null 2>&1 && python3.13 -c 'import sys' >/dev/null 2>&1; then
  dirname "$(command -v python3.13)"
  exit 0
fi

pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
for candidate in "$pyenv_root"/versions/3.13*/bin/python3.13; do
  if [ -x "$candidate" ]; then
    dirname "$candidate"
    exit 0
  fi
done

cat >&2 <<'MSG'
error: no python3.13 interpreter found.
  The Lambda functions target the python3.13 runtime, and `sam build` needs a matching
  interpreter on PATH. Install one, for example:
    pyenv install 3.13        (then re-run make)
    apt-get install python3.13 / brew install python@3.13
  or build inside a container instead:  sam build --use-container
MSG
exit 1
