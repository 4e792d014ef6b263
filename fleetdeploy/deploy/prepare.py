"""Preparing a release on the controller: the scoring image, its tarball and the staged artifacts.

Nothing here touches a node. The release id names exactly what a node will run, so the roles can
tell "already running this" from "needs a change" without sending anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from fleetdeploy.artifacts import StagedArtifacts, release_id, stage_spec_artifacts
from fleetdeploy.image import BuiltImage, EnvironmentInput, SavedImage, build_scoring_image, save_image
from fleetdeploy.image.prune import prune_saved_images
from fleetdeploy.image.push import push_image
from fleetdeploy.paths import cache_home
from fleetdeploy.render.gpus import gpu_device_requests
from fleetdeploy.secret_values import secret_values, secrets_identity, write_secrets_file
from fleetdeploy.spec.model import Spec

if TYPE_CHECKING:
    from fleetdeploy.native.prepare import NativeRelease

Say = Callable[[str], None]


@dataclass(frozen=True)
class PreparedRelease:
    release: str
    image: BuiltImage | None  # None for the venv and conda runtimes
    archive: SavedImage | None  # None when the nodes pull from the spec's registry
    staged: StagedArtifacts
    settings: dict  # the container settings that are part of the release identity
    native: NativeRelease | None = None  # venv / conda runtimes: the environment instead of an image
    secrets_file: Path | None = None  # the entry script's secrets (fleetdeploy/secret_values.py); None: none


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


def prepare_release(
    spec: Spec,
    work_dir: Path,
    *,
    say: Say = print,
    build_log: Say | None = None,
    leave_out: tuple[Path, ...] = (),
) -> PreparedRelease:
    """`say` gets one line per stage; `build_log` gets Docker's own build output (default: `say`);
    `leave_out` are paths that must not ship with the code (the inventory the command was given)."""
    if spec.runtime != "docker":
        return prepare_native_release(spec, work_dir, say=say, leave_out=leave_out)
    env = spec.environment
    image = build_scoring_image(
        EnvironmentInput(pip=env.pip, conda=env.conda),
        base_image=env.base_image,
        service=spec.service,
        progress=say,
        build_log=build_log,
        cache_dir=cache_home(),
    )
    if spec.registry:
        image, archive = replace(image, tag=push_image(image, spec.registry, say=say)), None
    else:
        archive = save_image(image, cache_home())
        # Tarballs are hundreds of MB each and only the current one is needed to deploy; keep a few
        # recent ones so switching back and forth between releases does not re-save.
        prune_saved_images(cache_home(), keep=3)
    staged = stage_spec_artifacts(spec, work_dir / "staged", leave_out)  # not artifacts/: ansible-runner's
    settings, values = release_settings(spec)
    return PreparedRelease(
        release_id(image.image_id, staged, settings), image, archive, staged, settings,
        secrets_file=write_secrets_file(values),
    )


def prepare_native_release(
    spec: Spec, work_dir: Path, *, say: Say = print, leave_out: tuple[Path, ...] = ()
) -> PreparedRelease:
    """venv / conda runtimes: the environment a node builds replaces the image (fleetdeploy.native)."""
    from fleetdeploy.native.prepare import native_release_id, prepare_native

    native = prepare_native(spec, work_dir, say=say)
    staged = stage_spec_artifacts(spec, Path(work_dir) / "staged", leave_out)
    settings, values = release_settings(spec)
    return PreparedRelease(
        native_release_id(native, staged, settings), None, None, staged, settings, native,
        secrets_file=write_secrets_file(values, systemd=True),
    )
