#!/usr/bin/env bash
# Builds the sandbox node images and the local python base image from Debian packages (debootstrap,
# then Dockerfile layers). Images whose recipe is unchanged are kept, so this is quick when nothing
# changed. Needs root (debootstrap) the first time. Extra arguments go to `fleetdeploy sandbox images`.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/fleetdeploy sandbox images "$@"
