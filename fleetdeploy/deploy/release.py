"""A release prepared on the controller, whatever the runtime: its id, the staged artifacts, the settings
that are part of its identity, its secrets' file, and what the runtime runs it from (fleetdeploy.runtimes:
an image for Docker, an environment for venv / conda).

Nothing here touches a node. The release id names exactly what a node will run, so the roles can
tell "already running this" from "needs a change" without sending anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from fleetdeploy.artifacts import StagedArtifacts, release_id
from fleetdeploy.render.gpus import gpu_device_requests
from fleetdeploy.secret_values import secret_values, secrets_identity
from fleetdeploy.spec.model import Spec

if TYPE_CHECKING:
    from fleetdeploy.native.prepare import NativeRelease
    from fleetdeploy.runtimes.docker import ImageRelease

Say = Callable[[str], None]


@dataclass(frozen=True)
class PreparedRelease:
    release: str
    staged: StagedArtifacts
    settings: dict  # the container settings that are part of the release identity
    runs_from: ImageRelease | NativeRelease  # the runtime's own part: an image, or an environment
    secrets_file: Path | None = None  # the entry script's secrets (fleetdeploy/secret_values.py); None: none

    def for_host(self, spec: Spec) -> PreparedRelease:
        """This release as run by a host whose inventory overrides some settings (spec.overrides: `spec`
        is its effective spec): the same image or environment, code and models, its own settings, and so
        its own release id. Itself when the settings are the same."""
        settings = container_settings(spec, self.settings.get("secrets"))
        if settings == self.settings:
            return self
        return replace(self, release=release_id(self.runs_from.identity, self.staged, settings), settings=settings)


def container_settings(spec: Spec, secrets: dict | None = None) -> dict:
    """Settings whose change means a new container (and so a new release). `secrets`: what
    secrets_identity() records of the secrets' values (names and a keyed digest, never a value)."""
    return {
        "port": spec.port,
        "slot_ports": spec.rollout.slot_ports_for(spec.port),
        "cpus": spec.resources.cpus,
        "memory": spec.resources.memory,
        "device_requests": gpu_device_requests(spec.resources.gpus),
        "workers": spec.server.workers,
        "timeout": spec.server.timeout,
        "max_body": spec.server.max_body,
        "log_level": spec.server.log_level,
        "sample_request": spec.health.sample_request_body(),
        "entry_script": spec.entry_script.relative_path,
        "model_dir": spec.model_dir_relative(),
        # venv / conda: how the systemd slot runs (drift compares these with the spec too).
        **({"runtime": spec.runtime, "user": spec.node_runtime.user} if spec.runtime != "docker" else {}),
        # Only when given, so releases without them keep the ids they always had.
        **({"env": dict(spec.env)} if spec.env else {}),
        **({"secrets": secrets} if secrets else {}),
    }


def release_settings(spec: Spec) -> tuple[dict, dict[str, str]]:
    """The container settings of the release identity, with the secrets' values they were made from
    (read once: they also go into the file shipped to the nodes)."""
    values = secret_values(spec)
    return container_settings(spec, secrets_identity(values)), values
