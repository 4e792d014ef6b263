#!/usr/bin/env bash
# Runs every test: unit, integration (real server processes on 127.0.0.1) and end-to-end on the
# sandbox fleet (real node containers, SSH, Ansible). Prepares images and the example model first.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/make-example.sh
exec .venv/bin/pytest "$@"
