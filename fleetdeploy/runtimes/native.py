"""The venv and conda runtimes: no image; the node builds the release's environment (fleet_venv or
fleet_conda) and runs it as a systemd unit per blue/green slot (fleet_unit). On the controller: the
scoring server's wheel and the environment files (fleetdeploy.native)."""

from __future__ import annotations

from pathlib import Path

from fleetdeploy.artifacts import stage_spec_artifacts
from fleetdeploy.deploy.release import PreparedRelease, Say, release_settings
from fleetdeploy.deploy.variables import release_variables, verify_variables
from fleetdeploy.native.prepare import native_release_id, prepare_native
from fleetdeploy.native.variables import environment_variables, unit_variables
from fleetdeploy.secret_values import write_secrets_file
from fleetdeploy.spec.model import Spec


class NativeRuntime:
    def prepare(
        self, spec: Spec, work_dir: Path, *, say: Say, build_log: Say | None, leave_out: tuple[Path, ...]
    ) -> PreparedRelease:
        native = prepare_native(spec, work_dir, say=say)
        staged = stage_spec_artifacts(spec, Path(work_dir) / "staged", leave_out)
        settings, values = release_settings(spec)
        return PreparedRelease(
            native_release_id(native, staged, settings),
            staged,
            settings,
            native,
            secrets_file=write_secrets_file(values, systemd=True),
        )

    def role_variables(self, spec: Spec, prepared: PreparedRelease) -> dict:
        unit_vars = unit_variables(spec, prepared)
        return {
            **release_variables(
                spec, prepared, service_vars=unit_vars, manifest={"env_hash": prepared.runs_from.env_hash}
            ),
            # The service user's group may enter the service's folder, where its environment is.
            "fleet_artifacts_group": spec.node_runtime.user,
            **environment_variables(spec, prepared),
            **unit_vars,
            **verify_variables(spec),
        }
