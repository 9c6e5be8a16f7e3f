#!/usr/bin/env bash
# One-time set-up on a fresh Debian machine with Python 3.11 (root or sudo):
# the Fashion-MNIST Debian package, then keras_segen with the extras given as $1.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
if [ ! -f /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz ]; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq dataset-fashion-mnist
fi
EXTRAS="${1:-}"
"$PY" -m pip install -q --upgrade pip
"$PY" -m pip install -q -e ".${EXTRAS:+[$EXTRAS]}"
