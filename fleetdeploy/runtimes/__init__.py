"""Runtimes: how a release runs on a node, chosen by the spec's `runtime`. Each one prepares its release
on the controller (PreparedRelease, with its own part in `runs_from`) and maps it onto its roles'
variables; on the nodes, deploy.yml's role fleet_release includes the runtime's roles. A new runtime is
one class here and one task file of fleet_release."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from fleetdeploy.deploy.release import PreparedRelease, Say
from fleetdeploy.deploy.variables import desired_digest
from fleetdeploy.runtimes.docker import DockerRuntime
from fleetdeploy.runtimes.native import NativeRuntime
from fleetdeploy.spec.model import Spec


class Runtime(Protocol):
    def prepare(
        self, spec: Spec, work_dir: Path, *, say: Say, build_log: Say | None, leave_out: tuple[Path, ...]
    ) -> PreparedRelease:
        """Build what the nodes run from, stage the artifacts, name the release. Touches no node."""

    def role_variables(self, spec: Spec, prepared: PreparedRelease) -> dict:
        """Every value the runtime's roles get; a controller file that ships is a Path, text a str."""


RUNTIMES: dict[str, Runtime] = {"docker": DockerRuntime(), "venv": NativeRuntime(), "conda": NativeRuntime()}


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
    return RUNTIMES[spec.runtime].prepare(spec, Path(work_dir), say=say, build_log=build_log, leave_out=leave_out)


def role_variables(spec: Spec, prepared: PreparedRelease) -> dict:
    """The runtime's role variables, with the digest of all of them that deploy.yml's fast path compares
    with the node's record of its last deploy (render/bundle.py carries the Paths into a self-contained
    project)."""
    variables = RUNTIMES[spec.runtime].role_variables(spec, prepared)
    return {**variables, "fleet_rollout_desired": desired_digest(variables)}
