"""Where fleetdeploy keeps its state on the controller (XDG layout, overridable for tests)."""

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path


def data_home() -> Path:
    """Sandboxes and deploy runs: `$FLEETDEPLOY_HOME`, else `$XDG_DATA_HOME/fleetdeploy`."""
    if os.environ.get("FLEETDEPLOY_HOME"):
        return Path(os.environ["FLEETDEPLOY_HOME"])
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "fleetdeploy"


def cache_home() -> Path:
    """Rebuildable things (image tarballs, the server wheel): `$XDG_CACHE_HOME/fleetdeploy`."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fleetdeploy"


def new_run_folder(kind: str, service: str, action: str = "") -> Path:
    """A fresh folder for one Ansible run: `<data home>/<kind>/<service>/<UTC time>[-<action>]`; kind `runs`
    for apply, `ops` for the day-two operations (so `status --watch` never pushes apply's runs out). It
    holds an inventory copy and Ansible's output: the user's only, from `<kind>/` down."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    top = data_home() / kind
    path = top / service / (f"{stamp}-{action}" if action else stamp)
    path.mkdir(parents=True)
    for folder in (top, top / service, path):
        folder.chmod(0o700)
    return path


def prune_run_folders(service_folder: Path, keep: int) -> None:
    """Old run folders hold staged artifacts; keep the newest few for inspection."""
    runs = sorted(p for p in service_folder.iterdir() if p.is_dir())
    for old in runs[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
