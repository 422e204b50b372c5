#!/usr/bin/env bash
# Everything the lab must check on a GPU, in one run with a time limit per step (bench/gpu_check.py
# says what and where the results go). Run from anywhere on a CUDA machine with ../shared beside the
# checkout:  bash bench/gpu_check.sh [--data DIR] [--out DIR] [--budget SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
exec "$PYTHON" bench/gpu_check.py "$@"
