"""What the spec on the controller asks for, in the terms of a release manifest, without building
the image: the code and model files are hashed as `apply` stages them, the container settings are
`apply`'s own. Used by `status --drift -f SPEC` to tell "the node serves an older score.py"."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

from fleetdeploy.artifacts import stage_spec_artifacts
from fleetdeploy.deploy.release import container_settings, release_settings
from fleetdeploy.inventory import Inventory
from fleetdeploy.ops.drift import Desired
from fleetdeploy.spec import load_spec
from fleetdeploy.spec.overrides import host_specs


def desired_from_spec(spec_path: Path, inventory: Path | None = None, hosts: Inventory | None = None) -> Desired:
    """`inventory`: the one the command was given, which `apply` leaves out of the code as well; `hosts`
    (it, loaded): those whose inventory overrides spec settings are judged against their own."""
    spec = load_spec(spec_path)
    with tempfile.TemporaryDirectory(prefix="fleetdeploy-drift-") as scratch:
        # Hardlinks where possible: staging costs the hashing, not a copy.
        manifest = stage_spec_artifacts(spec, Path(scratch), (inventory,)).manifest()
    settings = release_settings(spec)[0]
    desired = desired_from_manifest(manifest, settings)
    mine = {
        name: _as_json_types(container_settings(host.spec, settings.get("secrets")))
        for name, host in (host_specs(spec, hosts) if hosts is not None else {}).items()
        if host.overrides
    }
    return replace(desired, host_settings=mine)


def desired_from_manifest(manifest: dict, settings: dict) -> Desired:
    """A staged release's manifest and container settings (apply --check has them from its plan)."""
    models = {f"{m['name']}/{m['version']}": m["files"] for m in manifest["models"]}
    # The manifest is JSON on the node: compare like with like (tuples become lists there).
    return Desired(code_files=manifest["code_files"], models=models, settings=_as_json_types(settings))


def _as_json_types(value):
    import json

    return json.loads(json.dumps(value, default=str))
