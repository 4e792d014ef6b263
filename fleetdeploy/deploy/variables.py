"""The role variables of one deploy: the spec and a prepared release mapped onto the roles' public
surface (roles/*/defaults/main.yml). The only place that knows both sides' names."""

from __future__ import annotations

import hashlib
import json
from pathlib import PurePath

from fleetdeploy.deploy.prepare import PreparedRelease
from fleetdeploy.render.gpus import gpu_device_requests
from fleetdeploy.spec.model import Spec


def role_variables(spec: Spec, prepared: PreparedRelease) -> dict:
    """Every value the roles get. A file or folder on the controller that ships to the nodes is a Path
    (render/bundle.py carries those into a self-contained project); text is a str."""
    if prepared.native is not None:  # venv / conda runtimes: no image, a systemd slot instead
        from fleetdeploy.native.variables import native_role_variables

        variables = native_role_variables(spec, prepared)
    else:
        variables = _docker_variables(spec, prepared)
    return {**variables, "fleet_rollout_desired": desired_digest(variables)}


def desired_digest(variables: dict) -> str:
    """What a deploy wants on a node, as one digest (roles/fleet_rollout's fast path compares it with the
    node's record of its last deploy): every value but the controller's file paths (what they hold is in
    the release id: image id, model and code hashes), and the roles' and playbooks' own code."""
    from fleetdeploy.render import ansible_sources
    from fleetdeploy.render.sources import sources_digest

    def without_paths(value):
        if isinstance(value, dict):
            return {key: without_paths(item) for key, item in value.items() if not isinstance(item, PurePath)}
        if isinstance(value, (list, tuple)):
            return [without_paths(item) for item in value if not isinstance(item, PurePath)]
        return value

    wanted = json.dumps(without_paths(variables), sort_keys=True, default=str)
    return hashlib.sha256(f"{wanted}\0{sources_digest(ansible_sources())}".encode()).hexdigest()


def _docker_variables(spec: Spec, prepared: PreparedRelease) -> dict:
    service_vars = _service_variables(spec, prepared)
    image = {"image": prepared.image.tag, "image_id": prepared.image.image_id}
    return {
        **release_variables(spec, prepared, service_vars=service_vars, manifest=image),
        # fleet_image
        "fleet_image_name": prepared.image.tag,
        "fleet_image_id": prepared.image.image_id,
        "fleet_image_service": spec.service,
        "fleet_image_source": "registry" if spec.registry else "archive",
        "fleet_image_archive": prepared.archive.path if prepared.archive else "",
        **service_vars,
        **verify_variables(spec),
    }


def release_variables(spec: Spec, prepared: PreparedRelease, *, service_vars: dict, manifest: dict) -> dict:
    """What every runtime ships the same way: the release's identity and fleet_artifacts' variables,
    with the release manifest (`manifest` adds what the runtime runs from: an image, an environment)."""
    staged = prepared.staged
    return {
        "fleetdeploy_service": spec.service,
        "fleetdeploy_runtime": spec.runtime,
        "fleetdeploy_release": prepared.release,
        **rollout_variables(spec),
        "fleet_artifacts_service": spec.service,
        "fleet_artifacts_release": prepared.release,
        "fleet_artifacts_models": _shipped_models(prepared),
        "fleet_artifacts_code_hash": staged.code_hash,
        "fleet_artifacts_code_archive": staged.code_archive,
        # The secrets' file on the controller: copied, never read into a variable (no value in any output).
        "fleet_artifacts_secrets_src": prepared.secrets_file or "",
        "fleet_artifacts_secret_names": sorted(spec.secrets) if prepared.secrets_file else [],
        "fleet_artifacts_release_manifest": {
            "release": prepared.release,
            "service": spec.service,
            "runtime": spec.runtime,
            "settings": prepared.settings,
            **manifest,
            # What rollback needs to start this release again with nothing from the controller.
            "service_vars": service_vars,
            **staged.manifest(),
        },
    }


def rollout_variables(spec: Spec) -> dict:
    """The rollout as deploy.yml runs it: `serial` (Ansible's batch rules, which rollout.batch follows)
    and fleet_rollout's gate, budget and rollback mode."""
    return {
        "fleetdeploy_serial": list(spec.rollout.batch),
        "fleet_rollout_max_fail": spec.rollout.max_fail,
        "fleet_rollout_pause": spec.rollout.pause,
        "fleet_rollout_rollback": spec.rollout.rollback,
    }


def _shipped_models(prepared: PreparedRelease) -> list[dict]:
    return [
        {
            "name": model.name,
            "version": model.version,
            "src": model.dir,
            "files": [{"path": path, "sha256": sha} for path, sha in sorted(model.files.items())],
        }
        for model in prepared.staged.models
    ]


def service_operation_variables(spec: Spec) -> dict:
    """What rollback, releases and unlock need: no release, the service and how to check it."""
    return {
        "fleetdeploy_service": spec.service,
        "fleet_service_name": spec.service,
        **verify_variables(spec, expect_response=False),
    }


def verify_variables(spec: Spec, *, expect_response: bool = True) -> dict:
    """fleet_verify's variables. A rollback does not expect the spec's answer: the release it goes back
    to may answer differently."""
    sample = spec.health.sample_request_body() or ""
    expected = spec.health.expected_response if expect_response else None
    return {
        "fleet_verify_port": spec.port,
        "fleet_verify_ready_timeout": int(spec.health.ready_timeout),
        "fleet_verify_sample_request": sample,
        "fleet_verify_expected_response": json.dumps(expected) if expected is not None else "",
        "fleet_verify_request_timeout": int(spec.health.request_timeout),
    }


def _service_variables(spec: Spec, prepared: PreparedRelease) -> dict:
    """fleet_service's variables: how the release's container runs (kept in its manifest on the node)."""
    staged = prepared.staged
    return {
        "fleet_service_name": spec.service,
        "fleet_service_image": prepared.image.tag,
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
        "fleet_service_workers": spec.server.workers,
        "fleet_service_timeout": int(spec.server.timeout),
        "fleet_service_max_body": str(spec.server.max_body),
        "fleet_service_log_level": spec.server.log_level,
        "fleet_service_sample_request": spec.health.sample_request_body() or "",
        "fleet_service_ready_timeout": int(spec.health.ready_timeout),
        "fleet_service_env": dict(spec.env),
        "fleet_service_secrets": prepared.secrets_file is not None,
    }
