"""Where the roles and playbooks that get rendered come from."""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import ModuleType

from fleetdeploy.errors import EnvironmentProblem

# Lets a user (or a test) render a modified copy of the roles without reinstalling fleetdeploy.
SOURCE_ENV = "FLEETDEPLOY_ANSIBLE_DIR"


@dataclass(frozen=True)
class AnsibleSources:
    roles: Path
    playbooks: Path

    def playbook_names(self) -> list[str]:
        return sorted(p.name for p in self.playbooks.glob("*.yml"))


def ansible_sources() -> AnsibleSources:
    """The folder holding `roles/` and `playbooks/`: $FLEETDEPLOY_ANSIBLE_DIR, else the package's own."""
    override = os.environ.get(SOURCE_ENV)
    base = Path(override) if override else Path(str(resources.files("fleetdeploy.render") / "ansible"))
    sources = AnsibleSources(roles=(base / "roles").resolve(), playbooks=(base / "playbooks").resolve())
    for folder in (sources.roles, sources.playbooks):
        if not folder.is_dir():
            origin = f"${SOURCE_ENV}={override}" if override else "the fleetdeploy installation"
            raise EnvironmentProblem(
                f"{folder} is missing: {origin} has no Ansible {folder.name}/ folder; "
                "reinstall fleetdeploy or point $FLEETDEPLOY_ANSIBLE_DIR at a checkout's top level"
            )
    return sources


def sources_digest(sources: AnsibleSources) -> str:
    """sha256 over every file of the roles and playbooks (path and content): a deploy recorded on a node
    with other roles is not taken for one already there."""
    digest = hashlib.sha256()
    for folder in (sources.roles, sources.playbooks):
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            digest.update(str(path.relative_to(folder.parent)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@functools.cache
def role_plugin(role: str, kind: str, name: str) -> ModuleType:
    """One of the roles' own Python plugins (`kind`: filter_plugins, action_plugins), loaded as a module
    where fleetdeploy must decide exactly as the role does (a plugin imports nothing from fleetdeploy: the
    rendered project runs without it)."""
    path = ansible_sources().roles / role / kind / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"fleetdeploy_role_{role}_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
