#!/usr/bin/env bash
# The tests: install with the test extras, then run pytest (fast suite; -m slow for more).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test,vgg
PY="${PYTHON:-python3}"
"$PY" -m pytest -q "$@"
