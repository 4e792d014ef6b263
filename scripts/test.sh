#!/usr/bin/env bash
# Runs every test: unit, integration (real server processes on 127.0.0.1, real Docker builds) and
# end-to-end on the sandbox fleet (node containers, SSH, Ansible). Prepares the example model and the
# local images first (both skipped when up to date). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/make-example.sh
./scripts/build-images.sh
exec .venv/bin/pytest "$@"
