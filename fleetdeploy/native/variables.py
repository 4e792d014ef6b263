"""The role variables only venv and conda deploys have: fleet_venv or fleet_conda (the environment) and
fleet_unit (the systemd slot and the switch), in the place of Docker's fleet_docker, fleet_image and
fleet_service (fleetdeploy.runtimes.native puts them together with the shared ones)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fleetdeploy.deploy.variables import server_variables
from fleetdeploy.spec.model import Spec

if TYPE_CHECKING:
    from fleetdeploy.deploy.release import PreparedRelease


def environment_variables(spec: Spec, prepared: PreparedRelease) -> dict:
    """fleet_venv's or fleet_conda's variables: how the node builds the release's environment."""
    native = prepared.runs_from
    if spec.runtime == "venv":
        venv = spec.node_runtime.venv
        return {
            "fleet_venv_service": spec.service,
            "fleet_venv_env_hash": native.env_hash,
            "fleet_venv_files_src": native.files_dir,
            "fleet_venv_wheel": native.wheel_name,
            "fleet_venv_python": venv.python,
            "fleet_venv_pythons": list(native.environment.pythons),
            "fleet_venv_index_url": venv.index_url or "",
            "fleet_venv_wheelhouse_src": native.wheelhouse or "",
            "fleet_venv_ca_bundle_src": native.ca_bundle or "",
        }
    conda = spec.node_runtime.conda
    return {
        "fleet_conda_service": spec.service,
        "fleet_conda_env_hash": native.env_hash,
        "fleet_conda_files_src": native.files_dir,
        "fleet_conda_wheel": native.wheel_name,
        "fleet_conda_installer": conda.installer,
        "fleet_conda_installer_is_url": conda.installer_is_url,
        "fleet_conda_installer_kind": conda.installer_kind,
        "fleet_conda_installer_sha256": native.installer_sha256 or "",
        "fleet_conda_channels": [c for c in native.environment.conda["channels"] if c != "nodefaults"],
        "fleet_conda_channel_alias": conda.channel_alias or "",
        "fleet_conda_ca_bundle_src": native.ca_bundle or "",
    }


def unit_variables(spec: Spec, prepared: PreparedRelease) -> dict:
    """fleet_unit's variables: how the release runs as a systemd slot (kept in its manifest)."""
    staged = prepared.staged
    return {
        "fleet_unit_service": spec.service,
        "fleet_unit_release": prepared.release,
        "fleet_unit_runtime": spec.runtime,
        "fleet_unit_env_hash": prepared.runs_from.env_hash,
        "fleet_unit_user": spec.node_runtime.user,
        "fleet_unit_models": [{"name": m.name, "version": str(m.version)} for m in staged.models],
        "fleet_unit_code_hash": staged.code_hash,
        "fleet_unit_entry_script": staged.entry_script,
        "fleet_unit_port": spec.port,
        "fleet_unit_slot_ports": slot_ports(spec),
        "fleet_unit_cpus": spec.resources.cpus or 0,
        "fleet_unit_memory": spec.resources.memory or 0,
        "fleet_unit_gpus": spec.resources.gpus != 0,
        **server_variables("fleet_unit_", spec, prepared),
    }


def slot_ports(spec: Spec) -> dict:
    """The blue and green slot ports (rollout.slot_ports; port+10000 and port+20000 by default)."""
    return dict(spec.rollout.slot_ports_for(spec.port))
