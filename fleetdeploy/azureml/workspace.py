"""`Workspace`: Azure's workspace object as a folder on this machine (the registry's)."""

from __future__ import annotations

from pathlib import Path

from fleetdeploy import registry


class Workspace(registry.Workspace):
    """`Workspace.from_config()` as in the seed: a `fleetdeploy-workspace.json` found upward from the
    working directory names the folder, else the data home's workspace. `Workspace(path)` opens one
    directly. Azure's cloud arguments (subscription, resource group, auth) have no meaning here."""

    @classmethod
    def from_config(cls, path: Path | str | None = None, auth=None, _logger=None, _file_name=None) -> Workspace:
        return super().from_config(path)

    @property
    def name(self) -> str:
        return self.path.name

    def __repr__(self) -> str:
        return f"Workspace(path={str(self.path)!r})"
