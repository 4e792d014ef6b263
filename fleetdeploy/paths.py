"""Where fleetdeploy keeps its state on the controller (XDG layout, overridable for tests)."""

import os
from pathlib import Path


def data_home() -> Path:
    """Sandboxes and deploy runs: `$FLEETDEPLOY_HOME`, else `$XDG_DATA_HOME/fleetdeploy`."""
    if os.environ.get("FLEETDEPLOY_HOME"):
        return Path(os.environ["FLEETDEPLOY_HOME"])
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "fleetdeploy"


def cache_home() -> Path:
    """Rebuildable things (image tarballs, the server wheel): `$XDG_CACHE_HOME/fleetdeploy`."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fleetdeploy"
