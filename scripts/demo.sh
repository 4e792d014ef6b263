#!/usr/bin/env bash
# The main job on the built-in local fleet: a 3-node sandbox (Debian bookworm and trixie, one node
# without Docker so the role installs it), the example model deployed with `fleetdeploy apply`, and a
# prediction from every node. The sandbox stays up afterwards for you to explore; a second `make demo`
# reuses it while its three nodes run (the apply then changes nothing); FRESH=1 starts it anew.
set -euo pipefail
cd "$(dirname "$0")/.."
FD=.venv/bin/fleetdeploy
SANDBOX=${SANDBOX:-demo}
. scripts/phases.sh

# The inventory of the sandbox an earlier demo left, when its three nodes still run; nothing otherwise.
reusable_inventory() {
  $FD sandbox list 2>/dev/null | awk -v name="$SANDBOX" '
    $1 == name && $2 == "inventory:" { inventory = $3; mine = 1; next }
    mine && /^  / { nodes++; if ($2 == "running") running++; next }
    { mine = 0 }
    END { if (nodes == 3 && running == 3) print inventory }'
}

start_sandbox() {
  if [ -z "${FRESH:-}" ]; then
    inventory=$(reusable_inventory)
    if [ -n "$inventory" ]; then
      echo "==> reusing sandbox '$SANDBOX' (3 nodes running; FRESH=1 make demo starts it anew)"
      return
    fi
  fi
  echo "==> starting sandbox '$SANDBOX' (3 nodes)"
  $FD sandbox down --name "$SANDBOX" >/dev/null 2>&1 || true
  inventory=$($FD sandbox up --name "$SANDBOX" --nodes 3 --distro bookworm,trixie --docker absent,preinstalled | tail -n 1)
}

deploy() {
  echo "==> fleetdeploy apply $inventory"
  (cd examples/mnist && "../../$FD" apply "$inventory")
}

predict() {
  echo "==> a prediction from every node (the seed's request: a handwritten '2')"
  .venv/bin/python scripts/predict_each_node.py "$inventory" examples/mnist/sample_request.json
}

phase set-up ./scripts/bootstrap.sh
phase example ./scripts/make-example.sh
phase images ./scripts/build-images.sh
phase sandbox start_sandbox
phase deploy deploy
phase predictions predict
phase_summary

cat <<MSG

The fleet is still running. Try:
  $FD sandbox list
  $FD apply $inventory -f examples/mnist/fleetdeploy.yml     # again: changes nothing
  $FD sandbox down --name $SANDBOX
MSG
