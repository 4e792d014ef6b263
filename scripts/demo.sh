#!/usr/bin/env bash
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/make-example.sh
echo "demo: not wired yet"
