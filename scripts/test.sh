#!/usr/bin/env bash
# Runs every test: unit, integration (real server processes on 127.0.0.1, real Docker builds) and
# end-to-end on the sandbox fleet (node containers, SSH, Ansible). Sets up first (bootstrap, the
# example model, the local images: each skipped when up to date) and times each phase; pytest prints
# those, its own time, the time per test file and the slowest tests at the end. Extra arguments go to
# pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/phases.sh
phase bootstrap ./scripts/bootstrap.sh
phase example ./scripts/make-example.sh
phase images ./scripts/build-images.sh
# Two workers (FLEETDEPLOY_TEST_WORKERS; 0 runs in one process): a lone worker leaves the 2 cores idle while
# it waits on SSH, apt, pip and the nodes (pytest 2,544 s with one, 1,625 s with two: README). Which tests
# must share a worker: tests/conftest.py.
FLEETDEPLOY_SETUP_PHASES=$(phase_list) exec .venv/bin/pytest --durations=25 \
  -n "${FLEETDEPLOY_TEST_WORKERS:-2}" --no-loadscope-reorder "$@"
