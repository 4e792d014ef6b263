"""The Docker runtime: the release runs from a scoring image, a container per blue/green slot (roles
fleet_docker, fleet_image, fleet_artifacts, fleet_service). On the controller: the image built, then
saved as a tarball the nodes load, or pushed to the spec's registry they pull from."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from fleetdeploy.artifacts import release_id, stage_spec_artifacts
from fleetdeploy.deploy.release import PreparedRelease, Say, release_settings
from fleetdeploy.deploy.variables import release_variables, server_variables, verify_variables
from fleetdeploy.image import BuiltImage, EnvironmentInput, SavedImage, build_scoring_image, save_image
from fleetdeploy.image.prune import prune_saved_images
from fleetdeploy.image.push import push_image
from fleetdeploy.paths import cache_home
from fleetdeploy.render.gpus import gpu_device_requests
from fleetdeploy.secret_values import write_secrets_file
from fleetdeploy.spec.model import Spec


@dataclass(frozen=True)
class ImageRelease:
    image: BuiltImage
    archive: SavedImage | None  # None when the nodes pull from the spec's registry, or run locally (image_release)

    @property
    def identity(self) -> str:
        """What the release id hashes besides models, code and settings."""
        return self.image.image_id


class DockerRuntime:
    def prepare(
        self, spec: Spec, work_dir: Path, *, say: Say, build_log: Say | None, leave_out: tuple[Path, ...]
    ) -> PreparedRelease:
        prepared = image_release(spec, work_dir, say=say, build_log=build_log, leave_out=leave_out)
        image = prepared.runs_from.image
        if spec.registry:
            image, archive = replace(image, tag=push_image(image, spec.registry, say=say)), None
        else:
            archive = save_image(image, cache_home())
            # Tarballs are hundreds of MB each and only the current one is needed to deploy; keep a few
            # recent ones so switching back and forth between releases does not re-save.
            prune_saved_images(cache_home(), keep=3)
        return replace(prepared, runs_from=ImageRelease(image, archive))

    def role_variables(self, spec: Spec, prepared: PreparedRelease) -> dict:
        image: ImageRelease = prepared.runs_from
        service_vars = service_variables(spec, prepared)
        return {
            **release_variables(
                spec, prepared, service_vars=service_vars,
                manifest={"image": image.image.tag, "image_id": image.image.image_id},
            ),
            # fleet_image
            "fleet_image_name": image.image.tag,
            "fleet_image_id": image.image.image_id,
            "fleet_image_service": spec.service,
            "fleet_image_source": "registry" if spec.registry else "archive",
            "fleet_image_archive": image.archive.path if image.archive else "",
            "fleet_image_archive_zstd": image.archive.zstd_path if image.archive else "",
            "fleet_image_unpacked_bytes": image.archive.tar_bytes if image.archive else 0,
            # The tunnel's port comes with the run that offers it (deploy/transfer.py), not with the release.
            "fleet_image_tunnel_fallback": spec.transfer.mode != "tunnel",
            **service_vars,
            **verify_variables(spec),
        }


def service_variables(spec: Spec, prepared: PreparedRelease) -> dict:
    """fleet_service's variables: how the release's container runs (kept in its manifest on the node)."""
    staged = prepared.staged
    return {
        "fleet_service_name": spec.service,
        "fleet_service_image": prepared.runs_from.image.tag,
        "fleet_service_release": prepared.release,
        "fleet_service_models": [{"name": m.name, "version": m.version} for m in staged.models],
        "fleet_service_code_hash": staged.code_hash,
        "fleet_service_entry_script": staged.entry_script,
        "fleet_service_port": spec.port,
        "fleet_service_slot_ports": spec.rollout.slot_ports_for(spec.port),
        "fleet_service_parity_requests": spec.health.parity.bodies(),
        "fleet_service_parity_abs_tolerance": spec.health.parity.abs_tolerance,
        "fleet_service_parity_rel_tolerance": spec.health.parity.rel_tolerance,
        "fleet_service_strategy": spec.rollout.strategy,
        "fleet_service_keep_releases": spec.rollout.keep_releases,
        "fleet_service_warmup_cpu_shares": spec.rollout.warmup_cpu_shares,
        "fleet_service_cpus": spec.resources.cpus or 0,
        # Plain bytes: docker_container reads a bare number as bytes and compares limits in bytes.
        "fleet_service_memory": str(spec.resources.memory or ""),
        "fleet_service_device_requests": gpu_device_requests(spec.resources.gpus),
        **server_variables("fleet_service_", spec, prepared),
    }


def image_release(
    spec: Spec, work_dir: Path, *, say: Say, build_log: Say | None = None, leave_out: tuple[Path, ...] = ()
) -> PreparedRelease:
    """The release as this machine's Docker engine runs it: the image built, the artifacts staged, the id
    named; nothing saved or pushed for nodes (a local service, fleetdeploy/local, runs it as it is)."""
    env = spec.environment
    image = build_scoring_image(
        EnvironmentInput(pip=env.pip, conda=env.conda),
        base_image=env.base_image,
        service=spec.service,
        progress=say,
        build_log=build_log,
        cache_dir=cache_home(),
    )
    staged = stage_spec_artifacts(spec, work_dir / "staged", leave_out)  # not artifacts/: ansible-runner's
    settings, values = release_settings(spec)
    runs_from = ImageRelease(image, None)
    return PreparedRelease(
        release_id(runs_from.identity, staged, settings),
        staged,
        settings,
        runs_from,
        secrets_file=write_secrets_file(values),
    )
