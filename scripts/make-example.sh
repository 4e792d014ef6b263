#!/usr/bin/env bash
# Trains the example model (examples/mnist) from a dataset bundled with scikit-learn; skips if present.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f examples/mnist/model/sklearn_mnist_model.pkl ] || .venv/bin/python examples/mnist/train.py
